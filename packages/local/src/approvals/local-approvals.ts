/**
 * Manual approvals on one machine. The approval Task's handler records a pending approval in SQLite
 * and waits for its decision, which can come from a signed link served over HTTP (GET shows the form,
 * only the POST decides), from `stepline approve|reject` in another terminal, from a prompt on this
 * terminal, or at once with `--approve auto`. Whatever decides first wins; the rest find it decided.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import {
  ApprovalDecision,
  type ApprovalDecisionOutput,
  type ApprovalLinks,
  ApprovalRejectedError,
  type ApprovalRequest,
  type ApprovalView,
  approvalLinks,
  approvalRecord,
  isApproverAllowed,
} from '@stepline/core';
import type { ApprovalRow, HistoryStore } from '../store/history-store';

export type ApprovalMode = 'auto' | 'prompt' | 'link';

/** The link-signing key of this machine, made once under `.stepline/` and readable only by its owner. */
export function loadSigningKey(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}

export interface WaitOptions {
  mode: ApprovalMode;
  signal: AbortSignal;
  /** Where links are served; asked for only when someone needs a link. */
  baseUrl?: () => Promise<string>;
  /** Tells the person running the pipeline what to do (links, the CLI command). */
  announce?: (approval: ApprovalRow, links: ApprovalLinks | undefined) => void;
  /** Asks on this terminal; resolves to a decision, or undefined when nobody answers there. */
  prompt?: (approval: ApprovalRow, signal: AbortSignal) => Promise<{ decision: ApprovalDecision; comment: string } | undefined>;
  /** Who decides with `--approve auto`. */
  autoApprover?: string;
  pollMs?: number;
}

export class LocalApprovals {
  constructor(
    readonly store: HistoryStore,
    readonly key: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Links for one approval: signed, expiring with it, one per decision. */
  links(baseUrl: string, approval: Pick<ApprovalRow, 'id' | 'expiresAt'>): ApprovalLinks {
    const expiresAt = Math.floor(new Date(approval.expiresAt).getTime() / 1000);
    return approvalLinks(this.key, { approvalId: approval.id, expiresAt }, (token) => `${baseUrl}/approvals/${token}`);
  }

  /** Records a pending approval for a request; its id is random (every local task token is the same). */
  open(request: ApprovalRequest): ApprovalRow {
    const id = randomBytes(18).toString('base64url');
    const record = approvalRecord(request, id, this.now());
    const row = {
      id,
      executionId: request.executionId,
      pipeline: request.pipeline,
      stage: request.stage,
      action: request.action,
      customData: request.customData,
      externalLink: request.externalEntityLink,
      commitId: record.commit.commitId,
      approvers: request.approvers,
      requestedAt: record.createdAt,
      expiresAt: new Date(record.expiresAt * 1000).toISOString(),
    };
    this.store.createApproval(row);
    const created = this.store.getApproval(id);
    if (!created) throw new Error(`approval ${id} was not recorded`);
    return created;
  }

  /**
   * Decides a pending approval. Returns the decided row, or the row as it already was when someone
   * decided first (or it expired): then nothing changed.
   */
  decide(approvalId: string, decision: ApprovalDecision, approver: string, comment: string): { decided: boolean; approval: ApprovalRow | undefined } {
    const before = this.store.getApproval(approvalId);
    if (!before) return { decided: false, approval: undefined };
    if (before.status === 'Pending' && new Date(before.expiresAt).getTime() <= this.now().getTime()) {
      this.store.decideApproval(approvalId, { status: 'Expired', decidedBy: '', comment: '', at: this.now().toISOString() });
      return { decided: false, approval: this.store.getApproval(approvalId) };
    }
    const row = this.store.decideApproval(approvalId, {
      status: decision === ApprovalDecision.Approve ? 'Approved' : 'Rejected',
      decidedBy: approver,
      comment,
      at: this.now().toISOString(),
    });
    return row ? { decided: true, approval: row } : { decided: false, approval: this.store.getApproval(approvalId) };
  }

  /** Whether an approver may decide, given the action's allowlist. */
  allowed(approval: Pick<ApprovalRow, 'approvers'>, approver: string): boolean {
    return isApproverAllowed(approval.approvers, { email: approver.includes('@') ? approver : undefined });
  }

  /** Waits for the approval's decision and answers as the task token would: the output, or a rejection. */
  async wait(request: ApprovalRequest, options: WaitOptions): Promise<ApprovalDecisionOutput> {
    const approval = this.open(request);
    if (options.mode === 'auto') {
      this.decide(approval.id, ApprovalDecision.Approve, options.autoApprover ?? 'stepline (--approve auto)', '');
    } else {
      const links = options.baseUrl ? this.links(await options.baseUrl(), approval) : undefined;
      options.announce?.(approval, links);
    }
    const asked = new AbortController();
    const stopAsking = () => asked.abort();
    options.signal.addEventListener('abort', stopAsking, { once: true });
    if (options.mode === 'prompt' && options.prompt) {
      void options.prompt(approval, asked.signal).then((answer) => {
        if (answer) this.decide(approval.id, answer.decision, localUser(), answer.comment);
      });
    }
    try {
      for (;;) {
        const row = this.store.getApproval(approval.id);
        if (row && row.status !== 'Pending') return outcome(row);
        if (options.signal.aborted) throw new Error('the execution ended while the approval was pending');
        await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
      }
    } finally {
      asked.abort();
      options.signal.removeEventListener('abort', stopAsking);
      // The execution no longer waits: a link or `stepline approve` must not decide it any more.
      this.store.decideApproval(approval.id, { status: 'Expired', decidedBy: '', comment: '', at: this.now().toISOString() });
    }
  }

  /** An approval as the approval pages show it. */
  view(row: ApprovalRow): ApprovalView {
    return {
      approvalId: row.id,
      pipeline: row.pipeline,
      stage: row.stage,
      action: row.action,
      executionId: row.executionId,
      commit: { ...(row.commitId !== undefined && { commitId: row.commitId }) },
      ...(row.customData !== undefined && { customData: row.customData }),
      ...(row.externalLink !== undefined && { externalEntityLink: row.externalLink }),
      ...(row.approvers !== undefined && { approvers: row.approvers }),
      createdAt: row.requestedAt,
      expiresAt: Math.floor(new Date(row.expiresAt).getTime() / 1000),
    };
  }
}

function outcome(row: ApprovalRow): ApprovalDecisionOutput {
  if (row.status === 'Approved') return { approvedBy: row.decidedBy ?? '', comment: row.comment ?? '', decidedAt: row.decidedAt ?? '' };
  if (row.status === 'Rejected') {
    throw new ApprovalRejectedError(`rejected by ${row.decidedBy || 'someone'}${row.comment ? `: ${row.comment}` : ''}`);
  }
  throw Object.assign(new Error('the approval expired'), { name: 'States.Timeout' });
}

/** Who is deciding from this terminal: $STEPLINE_APPROVER, else the git author e-mail, else the login name. */
export function localUser(): string {
  const fromEnv = process.env.STEPLINE_APPROVER ?? process.env.GIT_AUTHOR_EMAIL ?? process.env.USER ?? process.env.USERNAME;
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'local user';
  }
}
