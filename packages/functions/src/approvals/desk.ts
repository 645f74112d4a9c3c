/**
 * Deciding an approval, whichever way the approver came (the web page's POST or a Slack button): the
 * link is verified, the approval looked up, the approver checked against its allowlist, the decision
 * written once (S3 `If-None-Match: *`) and only then sent to Step Functions (SendTaskSuccess, or
 * SendTaskFailure with `Stepline.ApprovalRejected`).
 *
 * A decision recorded but not delivered (Step Functions throttled, the function stopped) is delivered
 * again the next time any link of that approval is used: the second answer to a token is refused by
 * Step Functions, so delivering twice is harmless and nothing is lost.
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  type ApprovalDecisionRecord,
  type ApprovalLinkClaims,
  type ApprovalPage,
  type ApprovalRecord,
  type ApprovalView,
  decisionResult,
  isApproverAllowed,
  verifyApprovalLink,
} from '@stepline/core';
import { HttpError } from '../errors';
import type { ApprovalStore } from './store';

export type OpenedApproval = { ok: false; page: ApprovalPage } | { ok: true; claims: ApprovalLinkClaims; record: ApprovalRecord; view: ApprovalView };

export interface Approver {
  /** What the execution records as `ApprovedBy`. */
  name: string;
  email?: string;
  slackUserId?: string;
}

/** Step Functions' answers for a token that no longer waits: timed out, already answered, or its execution ended. */
const CLOSED_TOKEN_ERRORS = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);
/** SendTaskFailure's limits. */
const MAX_CAUSE = 32_768;

export class ApprovalDesk {
  constructor(private readonly deps: { store: ApprovalStore; sfn: () => Promise<SFNClient>; key: string; now: () => Date; logger: Logger }) {}

  /** Verifies a link token and finds its approval. */
  async open(token: string | undefined | null): Promise<OpenedApproval> {
    if (!token) return { ok: false, page: { kind: 'malformed' } };
    const verified = verifyApprovalLink(this.deps.key, token, Math.floor(this.deps.now().getTime() / 1000));
    if (!verified.ok) {
      this.deps.logger.info('approval link refused', { reason: verified.reason });
      return { ok: false, page: { kind: verified.reason } };
    }
    const record = await this.deps.store.getRequest(verified.claims.approvalId);
    if (!record) return { ok: false, page: { kind: 'unknown' } };
    const { taskToken: _token, ...view } = record;
    return { ok: true, claims: verified.claims, record, view };
  }

  /** The page a GET shows: the form, or who decided already. Never decides. */
  async show(opened: Extract<OpenedApproval, { ok: true }>, token: string, postUrl: string): Promise<ApprovalPage> {
    const decided = await this.deps.store.getDecision(opened.record.approvalId);
    if (decided) return { kind: 'decided', approval: opened.view, decided };
    return formPage(opened, token, postUrl);
  }

  /** Takes the decision the link names, for this approver; the page says what happened. */
  async decide(opened: Extract<OpenedApproval, { ok: true }>, approver: Approver, comment: string, via: ApprovalDecisionRecord['via']): Promise<ApprovalPage> {
    const { record, view, claims } = opened;
    const logger = this.deps.logger;
    if (
      !isApproverAllowed(record.approvers, {
        ...(approver.email !== undefined && { email: approver.email }),
        ...(approver.slackUserId !== undefined && { slackUserId: approver.slackUserId }),
      })
    ) {
      logger.info('approver refused by the allowlist', { via });
      return { kind: 'not-allowed', approval: view, reason: allowlistText(record) };
    }
    const decision: ApprovalDecisionRecord = {
      approvalId: record.approvalId,
      decision: claims.decision,
      approvedBy: approver.name,
      comment,
      decidedAt: this.deps.now().toISOString(),
      via,
    };
    if ((await this.deps.store.putDecision(decision)) === 'exists') {
      const first = await this.deps.store.getDecision(record.approvalId);
      if (!first) throw new HttpError(503, 'the approval is being decided; try again in a moment');
      await this.deliver(first, record).catch((error: unknown) => logger.warn('redelivering the recorded decision failed', { error }));
      logger.info('approval already decided', { decision: first.decision, via });
      return { kind: 'decided', approval: view, decided: first };
    }
    const delivered = await this.deliver(decision, record);
    logger.info('approval decided', { decision: decision.decision, via, delivered });
    if (delivered === 'closed') return { kind: 'closed', approval: view };
    return { kind: 'done', approval: view, decision: decision.decision, approvedBy: decision.approvedBy };
  }

  /** Answers the task token; `closed` when it no longer waits. */
  private async deliver(decision: ApprovalDecisionRecord, record: ApprovalRecord): Promise<'delivered' | 'closed'> {
    const result = decisionResult(decision);
    const { SendTaskFailureCommand, SendTaskSuccessCommand } = await import('@aws-sdk/client-sfn');
    const sfn = await this.deps.sfn();
    try {
      if (result.type === 'success') await sfn.send(new SendTaskSuccessCommand({ taskToken: record.taskToken, output: JSON.stringify(result.output) }));
      else await sfn.send(new SendTaskFailureCommand({ taskToken: record.taskToken, error: result.error, cause: result.cause.slice(0, MAX_CAUSE) }));
      return 'delivered';
    } catch (error) {
      const name = (error as { name?: unknown })?.name;
      if (typeof name === 'string' && CLOSED_TOKEN_ERRORS.has(name)) return 'closed';
      throw new HttpError(503, 'your decision is recorded, but Step Functions could not be told yet: open the link again to retry', {
        cause: error,
        expose: true,
      });
    }
  }
}

/** The confirmation form of an opened approval. */
export function formPage(opened: Extract<OpenedApproval, { ok: true }>, token: string, postUrl: string): Extract<ApprovalPage, { kind: 'form' }> {
  return {
    kind: 'form',
    approval: opened.view,
    decision: opened.claims.decision,
    token,
    postUrl,
    emailRequired: (opened.record.approvers?.emailDomains?.length ?? 0) > 0,
  };
}

function allowlistText(record: ApprovalRecord): string {
  const domains = record.approvers?.emailDomains ?? [];
  const slack = record.approvers?.slackUserIds ?? [];
  const who = [domains.length > 0 ? `people with an e-mail address at ${domains.join(', ')}` : '', slack.length > 0 ? 'the Slack users it lists' : '']
    .filter((s) => s !== '')
    .join(' and ');
  return `Only ${who} may decide this approval.`;
}
