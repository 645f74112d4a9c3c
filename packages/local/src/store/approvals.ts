/**
 * Approvals: each one requested, who may decide it, and its decision (taken once).
 */
import type Database from 'better-sqlite3';
import { opt, type Row } from './database';

export const APPROVALS_SCHEMA = `
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY,
  execution_id TEXT NOT NULL,
  pipeline TEXT NOT NULL,
  stage TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  custom_data TEXT,
  external_link TEXT,
  commit_id TEXT,
  approvers TEXT,
  requested_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  decided_by TEXT,
  comment TEXT,
  decided_at TEXT
);
`;

export type ApprovalStatus = 'Pending' | 'Approved' | 'Rejected' | 'Expired';

export interface ApprovalRow {
  id: string;
  executionId: string;
  pipeline: string;
  stage: string;
  action: string;
  status: ApprovalStatus;
  customData?: string;
  externalLink?: string;
  commitId?: string;
  /** Who may decide (e-mail domains), as the action declares. */
  approvers?: { emailDomains?: string[]; slackUserIds?: string[] };
  requestedAt: string;
  expiresAt: string;
  decidedBy?: string;
  comment?: string;
  decidedAt?: string;
}

function toApproval(r: Row): ApprovalRow {
  return {
    id: String(r.id),
    executionId: String(r.execution_id),
    pipeline: String(r.pipeline),
    stage: String(r.stage),
    action: String(r.action),
    status: r.status as ApprovalStatus,
    customData: opt(r.custom_data),
    externalLink: opt(r.external_link),
    commitId: opt(r.commit_id),
    approvers: r.approvers ? JSON.parse(String(r.approvers)) : undefined,
    requestedAt: String(r.requested_at),
    expiresAt: String(r.expires_at),
    decidedBy: opt(r.decided_by),
    comment: opt(r.comment),
    decidedAt: opt(r.decided_at),
  };
}

export class ApprovalRecords {
  constructor(private readonly db: Database.Database) {}

  createApproval(a: Omit<ApprovalRow, 'status'>): void {
    this.db
      .prepare(
        `INSERT INTO approvals (id, execution_id, pipeline, stage, action, status, custom_data, external_link, commit_id, approvers, requested_at, expires_at)
         VALUES (?, ?, ?, ?, ?, 'Pending', ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        a.id,
        a.executionId,
        a.pipeline,
        a.stage,
        a.action,
        a.customData ?? null,
        a.externalLink ?? null,
        a.commitId ?? null,
        a.approvers ? JSON.stringify(a.approvers) : null,
        a.requestedAt,
        a.expiresAt,
      );
  }

  getApproval(id: string): ApprovalRow | undefined {
    const row = this.db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }

  approvals(executionId: string): ApprovalRow[] {
    return (this.db.prepare('SELECT * FROM approvals WHERE execution_id = ? ORDER BY requested_at').all(executionId) as Row[]).map(toApproval);
  }

  /**
   * Decides a pending approval, once: returns the decided row, or undefined when it was no longer
   * pending (already decided, expired), so a reused link or a second terminal changes nothing.
   */
  decideApproval(id: string, d: { status: 'Approved' | 'Rejected' | 'Expired'; decidedBy: string; comment: string; at: string }): ApprovalRow | undefined {
    const changed = this.db
      .prepare("UPDATE approvals SET status = ?, decided_by = ?, comment = ?, decided_at = ? WHERE id = ? AND status = 'Pending'")
      .run(d.status, d.decidedBy, d.comment, d.at, id).changes;
    return changed === 1 ? this.getApproval(id) : undefined;
  }

  /** Closes the approvals still pending in an execution that has ended, so nothing decides them later. */
  expirePendingApprovals(executionId: string, at: string): void {
    this.db.prepare("UPDATE approvals SET status = 'Expired', decided_at = ? WHERE execution_id = ? AND status = 'Pending'").run(at, executionId);
  }
}
