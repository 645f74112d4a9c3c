/**
 * The approval request as an SNS message, shaped after CodePipeline's approval notification: a JSON
 * document for programs (`approval.pipelineName`, `stageName`, `actionName`, `expires`, `customData`,
 * `externalEntityLink`, `approvalReviewLink`) and a plain text for e-mail. The links replace
 * CodePipeline's token: the task token itself is never sent anywhere.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-json-format.html
 */

import type { ApprovalLinks } from './links';
import { type ApprovalRecord, commitUrl } from './request';

export interface ApprovalNotification {
  /** ASCII, one line, under 100 characters (SNS's limits for a subject). */
  subject: string;
  /** For e-mail subscribers. */
  text: string;
  /** For every other protocol. */
  json: Record<string, unknown>;
}

export function approvalNotification(
  record: Omit<ApprovalRecord, 'taskToken'>,
  links: Pick<ApprovalLinks, 'approveUrl' | 'rejectUrl'>,
  region?: string,
): ApprovalNotification {
  const expires = new Date(record.expiresAt * 1000).toISOString();
  const commit = commitUrl(record.commit);
  const lines = [
    `Pipeline ${record.pipeline} is waiting for an approval.`,
    '',
    `Stage:     ${record.stage}`,
    `Action:    ${record.action}`,
    `Execution: ${record.executionId}`,
  ];
  if (record.commit.commitId) lines.push(`Commit:    ${record.commit.commitId}${record.commit.branch ? ` (${record.commit.branch})` : ''}`);
  if (record.commit.message) lines.push(`Message:   ${record.commit.message.split('\n')[0]}`);
  if (commit) lines.push(`           ${commit}`);
  if (record.customData) lines.push('', record.customData);
  if (record.externalEntityLink) lines.push('', `Review: ${record.externalEntityLink}`);
  lines.push(
    '',
    `Approve: ${links.approveUrl}`,
    `Reject:  ${links.rejectUrl}`,
    '',
    `Each link opens a page where you confirm, with a comment. The links expire at ${expires} and work once.`,
  );
  return {
    subject: asciiSubject(`APPROVAL NEEDED: ${record.pipeline} / ${record.stage} / ${record.action}`),
    text: lines.join('\n'),
    json: {
      ...(region !== undefined && { region }),
      approval: {
        pipelineName: record.pipeline,
        stageName: record.stage,
        actionName: record.action,
        executionId: record.executionId,
        expires,
        ...(record.customData !== undefined && { customData: record.customData }),
        ...(record.externalEntityLink !== undefined && { externalEntityLink: record.externalEntityLink }),
        approvalReviewLink: links.approveUrl,
        approveUrl: links.approveUrl,
        rejectUrl: links.rejectUrl,
        commit: { ...record.commit, ...(commit !== undefined && { url: commit }) },
      },
    },
  };
}

/** SNS subjects: printable ASCII, no line breaks, fewer than 100 characters. */
export function asciiSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?').trim();
  return (ascii.length > 99 ? `${ascii.slice(0, 98)}…`.replace('…', '~') : ascii) || 'stepline';
}
