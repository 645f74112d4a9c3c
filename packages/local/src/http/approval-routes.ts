/**
 * The approval pages on one machine: `GET /approvals/<link>` shows the decision form (mail scanners
 * and link previews fetch URLs, so a GET never decides), `POST /approvals/<link>` decides. Forged,
 * expired, reused or already-decided links get a page saying so and a 4xx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { APPROVAL_PAGE_HEADERS, ApprovalDecision, type ApprovalPage, renderApprovalPage, verifyApprovalLink } from '@stepline/core';
import type { LocalApprovals } from '../approvals/local-approvals';
import { decodeSegment, HttpError, readBody, requestUrl } from './body';

const PREFIX = '/approvals/';
const MAX_FORM = 16 * 1024;

function send(res: ServerResponse, page: ApprovalPage): void {
  const { status, html } = renderApprovalPage(page);
  res.writeHead(status, APPROVAL_PAGE_HEADERS);
  res.end(html);
}

/** Handles the request when it is an approval route; returns false otherwise. */
export async function handleApprovalRoute(req: IncomingMessage, res: ServerResponse, approvals: LocalApprovals, now = () => Date.now()): Promise<boolean> {
  const url = requestUrl(req);
  if (!url.pathname.startsWith(PREFIX)) return false;
  if (req.method !== 'GET' && req.method !== 'POST') {
    res.writeHead(405, { allow: 'GET, POST' }).end();
    return true;
  }
  const token = decodeSegment(url.pathname.slice(PREFIX.length));
  if (token === undefined) {
    send(res, { kind: 'malformed' });
    return true;
  }
  const verified = verifyApprovalLink(approvals.key, token, Math.floor(now() / 1000));
  if (!verified.ok) {
    send(res, { kind: verified.reason });
    return true;
  }
  const { approvalId, decision } = verified.claims;
  const row = approvals.store.getApproval(approvalId);
  if (!row) {
    send(res, { kind: 'unknown' });
    return true;
  }
  const view = approvals.view(row);
  const decidedPage = (): ApprovalPage => {
    const current = approvals.store.getApproval(approvalId) ?? row;
    if (current.status === 'Approved' || current.status === 'Rejected') {
      return {
        kind: 'decided',
        approval: view,
        decided: {
          decision: current.status === 'Approved' ? ApprovalDecision.Approve : ApprovalDecision.Reject,
          approvedBy: current.decidedBy ?? '',
          decidedAt: current.decidedAt ?? '',
        },
      };
    }
    return { kind: 'closed', approval: view };
  };
  if (row.status !== 'Pending') {
    send(res, decidedPage());
    return true;
  }
  const emailRequired = (row.approvers?.emailDomains?.length ?? 0) > 0;
  const form = (error?: string): ApprovalPage => ({
    kind: 'form',
    approval: view,
    decision,
    token,
    postUrl: url.pathname,
    emailRequired,
    ...(error && { error }),
  });
  if (req.method === 'GET') {
    send(res, form());
    return true;
  }

  let fields: URLSearchParams;
  try {
    fields = new URLSearchParams(await readBody(req, MAX_FORM));
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 400;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(status === 413 ? 'form too large\n' : 'unreadable form\n');
    return true;
  }
  // The form echoes the link's token: a POST from anywhere else does not carry it.
  if (fields.get('token') !== token) {
    send(res, { kind: 'malformed' });
    return true;
  }
  const email = (fields.get('email') ?? '').trim();
  const comment = (fields.get('comment') ?? '').trim().slice(0, 1000);
  if (emailRequired && !email) {
    res.statusCode = 400;
    send(res, form('Give your e-mail address: only listed domains may decide.'));
    return true;
  }
  if (!approvals.allowed(row, email)) {
    send(res, { kind: 'not-allowed', approval: view, reason: `${email} may not decide this approval.` });
    return true;
  }
  const approver = email || `approval link (${req.socket.remoteAddress ?? 'unknown address'})`;
  const result = approvals.decide(approvalId, decision, approver, comment);
  send(res, result.decided ? { kind: 'done', approval: view, decision, approvedBy: approver } : decidedPage());
  return true;
}
