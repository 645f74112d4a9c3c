/**
 * The approval pages, for both runtimes: the decision form (a GET shows it; mail scanners prefetch
 * links, so only its POST decides) and the outcome pages. Pure string rendering; every value is
 * escaped, and the pages carry no script.
 */

import { escapeHtml as esc } from '../html';
import { MAX_APPROVAL_COMMENT, MAX_APPROVER_EMAIL } from './form';
import type { ApprovalDecision } from './links';
import { type ApprovalDecisionRecord, type ApprovalRecord, commitUrl } from './request';

/** An approval as a page shows it: never with its task token. */
export type ApprovalView = Omit<ApprovalRecord, 'taskToken'>;

export type ApprovalPage =
  /** The confirmation form behind an approve or reject link. */
  | { kind: 'form'; approval: ApprovalView; decision: ApprovalDecision; token: string; postUrl: string; emailRequired: boolean; error?: string }
  /** This request decided the approval. */
  | { kind: 'done'; approval: ApprovalView; decision: ApprovalDecision; approvedBy: string }
  /** Someone decided before (a reused link, or the other link of the pair). */
  | { kind: 'decided'; approval: ApprovalView; decided: Pick<ApprovalDecisionRecord, 'decision' | 'approvedBy' | 'decidedAt'> }
  | { kind: 'malformed' }
  | { kind: 'forged' }
  | { kind: 'expired' }
  /** A well-signed link whose approval the server does not hold. */
  | { kind: 'unknown' }
  | { kind: 'not-allowed'; approval: ApprovalView; reason: string }
  /** The execution no longer waits for this approval (timed out, stopped, or superseded). */
  | { kind: 'closed'; approval: ApprovalView };

export interface RenderedPage {
  status: number;
  html: string;
}

/** Headers every approval page is served with: not cached, not framed, no referrer (the URL holds the link). */
export const APPROVAL_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
};

/** The page for an outcome, with the HTTP status it is served with (never a 5xx). */
export function renderApprovalPage(page: ApprovalPage): RenderedPage {
  switch (page.kind) {
    case 'form':
      return { status: 200, html: layout(`${verb(page.decision)} ${page.approval.pipeline}?`, [summary(page.approval), form(page)].join('\n')) };
    case 'done':
      return {
        status: 200,
        html: layout(`${past(page.decision)}`, `${summary(page.approval)}\n<p class="ok">${past(page.decision)} by ${esc(page.approvedBy)}.</p>`),
      };
    case 'decided':
      return {
        status: 409,
        html: layout(
          'Already decided',
          `${summary(page.approval)}\n<p>This approval was already ${past(page.decided.decision).toLowerCase()} by ${esc(page.decided.approvedBy)} at ${esc(page.decided.decidedAt)}. Each link works once.</p>`,
        ),
      };
    case 'malformed':
      return { status: 400, html: layout('Not an approval link', '<p>This link is incomplete or damaged. Open it again from the original message.</p>') };
    case 'forged':
      return { status: 403, html: layout('Link not valid', '<p>This link was not issued by this stepline installation, or was altered.</p>') };
    case 'expired':
      return { status: 410, html: layout('Link expired', '<p>This approval link has expired: the approval timed out.</p>') };
    case 'unknown':
      return { status: 404, html: layout('Approval not found', '<p>This approval is not known here any more.</p>') };
    case 'not-allowed':
      return { status: 403, html: layout('Not an approver', `${summary(page.approval)}\n<p>${esc(page.reason)}</p>`) };
    case 'closed':
      return {
        status: 410,
        html: layout(
          'No longer waiting',
          `${summary(page.approval)}\n<p>The execution no longer waits for this approval: it timed out, stopped or was superseded.</p>`,
        ),
      };
  }
}

const verb = (d: ApprovalDecision) => (d === 'approve' ? 'Approve' : 'Reject');
const past = (d: ApprovalDecision) => (d === 'approve' ? 'Approved' : 'Rejected');

/** HTML-escapes text for element content and double-quoted attributes. */

const safeHref = (url: string) => (/^https?:\/\//i.test(url) ? esc(url) : undefined);

function summary(a: ApprovalView): string {
  const rows: Array<[string, string]> = [
    ['Pipeline', esc(a.pipeline)],
    ['Stage', esc(a.stage)],
    ['Action', esc(a.action)],
    ['Execution', esc(a.executionId)],
  ];
  if (a.commit.commitId) {
    const url = commitUrl(a.commit);
    const id = esc(a.commit.commitId.slice(0, 12));
    rows.push(['Commit', `${url ? `<a href="${esc(url)}">${id}</a>` : id}${a.commit.branch ? ` on ${esc(a.commit.branch)}` : ''}`]);
  }
  if (a.commit.message) rows.push(['Message', esc(a.commit.message.split('\n')[0] ?? '')]);
  if (a.customData) rows.push(['Details', esc(a.customData)]);
  if (a.externalEntityLink) {
    const href = safeHref(a.externalEntityLink);
    rows.push(['Review', href ? `<a href="${href}">${href}</a>` : esc(a.externalEntityLink)]);
  }
  rows.push(['Expires', esc(new Date(a.expiresAt * 1000).toISOString())]);
  return `<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function form(page: Extract<ApprovalPage, { kind: 'form' }>): string {
  const error = page.error ? `<p class="error">${esc(page.error)}</p>` : '';
  return `${error}<form method="post" action="${esc(page.postUrl)}">
<input type="hidden" name="token" value="${esc(page.token)}">
<label>Your e-mail${page.emailRequired ? '' : ' (optional)'}<br><input type="email" name="email" maxlength="${MAX_APPROVER_EMAIL}"${page.emailRequired ? ' required' : ''}></label>
<label>Comment<br><textarea name="comment" rows="4" maxlength="${MAX_APPROVAL_COMMENT}"></textarea></label>
<button type="submit" class="${page.decision}">${verb(page.decision)}</button>
</form>`;
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><meta name="referrer" content="no-referrer">
<title>${esc(title)} · stepline</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}th{text-align:left;padding-right:1rem;vertical-align:top}
label{display:block;margin:1rem 0}input,textarea{width:100%;box-sizing:border-box;font:inherit}button{font:inherit;padding:.5rem 1.5rem;border:0;border-radius:4px;color:#fff}
.approve{background:#1a7f37}.reject{background:#cf222e}.error{color:#cf222e}.ok{color:#1a7f37}</style></head>
<body><h1>${esc(title)}</h1>
${body}
</body></html>`;
}
