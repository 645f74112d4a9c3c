/**
 * A manual approval, from the Task's request to its decision, whatever runtime serves it. The compiled
 * approval Task (see `compileApproval`) sends `ApprovalRequest`; the runtime keeps an `ApprovalRecord`
 * server-side (the task token stays there) and answers the token with `ApprovalDecisionOutput` or a
 * `Stepline.ApprovalRejected` failure.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html
 */
import * as z from 'zod';
import { ErrorName } from '../errors';

const ApproversSchema = z.object({
  emailDomains: z.array(z.string()).optional(),
  slackUserIds: z.array(z.string()).optional(),
});
export type ApproverAllowlist = z.infer<typeof ApproversSchema>;

/** What the compiled approval Task sends its function (`lambda:invoke.waitForTaskToken` Payload). */
export const ApprovalRequestSchema = z.object({
  taskToken: z.string().min(1).max(10_000),
  pipeline: z.string().min(1),
  stage: z.string().min(1),
  action: z.string().min(1),
  executionId: z.string().min(1),
  /** The first source action's variables (`CommitId`, `BranchName`, ...). */
  source: z.record(z.string(), z.unknown()).nullish(),
  timeoutSeconds: z.number().int().positive(),
  customData: z.string().optional(),
  externalEntityLink: z.string().optional(),
  notificationArn: z.string().optional(),
  approvers: ApproversSchema.optional(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>;

/** The commit an approval is about, from the source action's variables. */
export interface ApprovalCommit {
  repository?: string;
  commitId?: string;
  branch?: string;
  message?: string;
  provider?: string;
}

/** What the server keeps for one approval, under its id. Holds the task token: never shown, never logged. */
export const ApprovalRecordSchema = z.object({
  approvalId: z.string(),
  taskToken: z.string(),
  pipeline: z.string(),
  stage: z.string(),
  action: z.string(),
  executionId: z.string(),
  commit: z.object({
    repository: z.string().optional(),
    commitId: z.string().optional(),
    branch: z.string().optional(),
    message: z.string().optional(),
    provider: z.string().optional(),
  }),
  customData: z.string().optional(),
  externalEntityLink: z.string().optional(),
  approvers: ApproversSchema.optional(),
  createdAt: z.string(),
  /** Epoch seconds: the approval's timeout. */
  expiresAt: z.number().int(),
});
export type ApprovalRecord = z.infer<typeof ApprovalRecordSchema>;

/** The first decision taken on an approval; written once. */
export const ApprovalDecisionRecordSchema = z.object({
  approvalId: z.string(),
  decision: z.enum(['approve', 'reject']),
  approvedBy: z.string(),
  comment: z.string(),
  decidedAt: z.string(),
  via: z.enum(['web', 'slack']),
});
export type ApprovalDecisionRecord = z.infer<typeof ApprovalDecisionRecordSchema>;

/**
 * What SendTaskSuccess sends; the compiled ResultSelector reads `approvedBy` and `comment` (as the
 * action's `ApprovedBy` and `Comment` variables), so both are always present.
 */
export interface ApprovalDecisionOutput {
  approvedBy: string;
  comment: string;
  decidedAt: string;
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** The record to keep for a request: the commit from the source variables, and the expiry from the timeout. */
export function approvalRecord(request: ApprovalRequest, approvalId: string, now: Date): ApprovalRecord {
  const s = request.source ?? {};
  const commit: ApprovalCommit = {};
  const set = (k: keyof ApprovalCommit, v: unknown) => {
    const t = text(v);
    if (t !== undefined) commit[k] = t;
  };
  set('repository', s.FullRepositoryName);
  set('commitId', s.CommitId);
  set('branch', s.BranchName);
  set('message', s.CommitMessage);
  set('provider', s.ProviderType);
  return {
    approvalId,
    taskToken: request.taskToken,
    pipeline: request.pipeline,
    stage: request.stage,
    action: request.action,
    executionId: request.executionId,
    commit,
    ...(request.customData !== undefined && { customData: request.customData }),
    ...(request.externalEntityLink !== undefined && { externalEntityLink: request.externalEntityLink }),
    ...(request.approvers !== undefined && { approvers: request.approvers }),
    createdAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + request.timeoutSeconds,
  };
}

/** A link to the commit on GitHub, when the source is a GitHub repository. */
export function commitUrl(commit: ApprovalCommit): string | undefined {
  if (!commit.repository || !commit.commitId) return undefined;
  if (commit.provider !== undefined && commit.provider !== 'GitHub' && commit.provider !== 'CodeStarSourceConnection') return undefined;
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(commit.repository) || !/^[0-9a-f]{7,64}$/i.test(commit.commitId)) return undefined;
  return `https://github.com/${commit.repository}/commit/${commit.commitId}`;
}

/**
 * Whether an approver may decide. No allowlist (or an empty one) lets anyone holding a valid link
 * decide. Otherwise the approver's e-mail domain (exact, without case) or Slack user id must be listed.
 */
export function isApproverAllowed(allow: ApproverAllowlist | undefined, approver: { email?: string; slackUserId?: string }): boolean {
  const domains = (allow?.emailDomains ?? []).map((d) => d.trim().replace(/^@/, '').toLowerCase()).filter((d) => d !== '');
  const slackIds = allow?.slackUserIds ?? [];
  if (domains.length === 0 && slackIds.length === 0) return true;
  if (approver.slackUserId !== undefined && slackIds.includes(approver.slackUserId)) return true;
  if (approver.email !== undefined) {
    const at = approver.email.lastIndexOf('@');
    if (
      at > 0 &&
      domains.includes(
        approver.email
          .slice(at + 1)
          .trim()
          .toLowerCase(),
      )
    )
      return true;
  }
  return false;
}

/** What the runtime sends the task token once the decision is taken. */
export function decisionResult(
  decision: Pick<ApprovalDecisionRecord, 'decision' | 'approvedBy' | 'comment' | 'decidedAt'>,
): { type: 'success'; output: ApprovalDecisionOutput } | { type: 'failure'; error: string; cause: string } {
  if (decision.decision === 'approve')
    return { type: 'success', output: { approvedBy: decision.approvedBy, comment: decision.comment, decidedAt: decision.decidedAt } };
  const cause = `Rejected by ${decision.approvedBy}${decision.comment ? `: ${decision.comment}` : ''}`;
  return { type: 'failure', error: ErrorName.ApprovalRejected, cause };
}
