/**
 * An execution's status change as a notification: which pipeline, which commit, where it failed (the
 * stage and action, from the cause the compiled failure states write: `Stage <s>, action <a> failed: …`)
 * and a link to the execution in the Step Functions console.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
 */
import { asciiSubject, commitUrl, ErrorName, type ExecutionInput, escapeSlack, type SlackMessage } from '@stepline/core';

export interface ExecutionChange {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  startDate?: number | null | undefined;
  stopDate?: number | null | undefined;
  error?: string | null | undefined;
  cause?: string | null | undefined;
}

export interface ExecutionNotice {
  pipeline: string;
  /** The Step Functions status, or SUPERSEDED for an execution a newer one replaced. */
  status: string;
  execution: string;
  executionArn: string;
  consoleUrl: string;
  commit: { repository?: string; commitId?: string; branch?: string; message?: string; url?: string };
  failure?: { stage?: string; action?: string; error?: string; message?: string };
}

const ACTION_FAILED = /^Stage (.+?), action (.+?) failed: ([\s\S]*)$/;
const STAGE_NOT_ENTERED = /^Stage (.+?) was not entered: ([\s\S]*)$/;

/** Where an execution failed, from the cause its failure states wrote; the message unwrapped from a Lambda error's JSON. */
export function failureOf(error: string | undefined, cause: string | undefined): ExecutionNotice['failure'] {
  let stage: string | undefined;
  let action: string | undefined;
  let rest = cause ?? '';
  const failed = ACTION_FAILED.exec(rest);
  const notEntered = STAGE_NOT_ENTERED.exec(rest);
  if (failed) [, stage, action, rest = ''] = failed;
  else if (notEntered) [, stage, rest = ''] = notEntered;
  let message = rest.trim();
  try {
    const parsed: unknown = JSON.parse(message);
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { errorMessage?: unknown }).errorMessage === 'string')
      message = (parsed as { errorMessage: string }).errorMessage;
  } catch {
    // not JSON: the cause is text already
  }
  return {
    ...(stage !== undefined && { stage }),
    ...(action !== undefined && { action }),
    ...(error ? { error } : {}),
    ...(message !== '' && { message: message.slice(0, 1000) }),
  };
}

export function consoleUrl(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

export function executionNotice(change: ExecutionChange, input: ExecutionInput | undefined): ExecutionNotice {
  const pipeline = input?.pipeline ?? change.stateMachineArn.split(':').at(-1) ?? change.stateMachineArn;
  const superseded = change.error === ErrorName.Superseded;
  const source = input?.source;
  const commit = {
    ...(source?.repository !== undefined && { repository: source.repository }),
    ...(source?.commitId !== undefined && { commitId: source.commitId }),
    ...((source?.branchName ?? source?.tag) !== undefined && { branch: source?.branchName ?? source?.tag }),
    ...(source?.commitMessage !== undefined && { message: source.commitMessage }),
  };
  const url = commitUrl(commit);
  const failed = change.status === 'FAILED' || change.status === 'TIMED_OUT' || change.status === 'ABORTED';
  return {
    pipeline,
    status: superseded ? 'SUPERSEDED' : change.status,
    execution: change.name,
    executionArn: change.executionArn,
    consoleUrl: consoleUrl(change.executionArn),
    commit: { ...commit, ...(url !== undefined && { url }) },
    ...(failed && !superseded && { failure: failureOf(change.error ?? undefined, change.cause ?? undefined) }),
  };
}

function where(n: ExecutionNotice): string | undefined {
  if (!n.failure?.stage) return undefined;
  return n.failure.action ? `${n.failure.stage} · ${n.failure.action}` : n.failure.stage;
}

export function noticeText(n: ExecutionNotice): { subject: string; text: string } {
  const at = where(n);
  const lines = [`Pipeline ${n.pipeline}: execution ${n.execution} ${n.status}${at ? ` at ${at}` : ''}.`, ''];
  if (n.commit.commitId) lines.push(`Commit:  ${n.commit.commitId}${n.commit.branch ? ` (${n.commit.branch})` : ''}`);
  if (n.commit.message) lines.push(`Message: ${n.commit.message.split('\n')[0]}`);
  if (n.commit.url) lines.push(`         ${n.commit.url}`);
  if (n.failure?.error) lines.push(`Error:   ${n.failure.error}`);
  if (n.failure?.message) lines.push(`Cause:   ${n.failure.message}`);
  lines.push('', `Execution: ${n.consoleUrl}`);
  return { subject: asciiSubject(`stepline ${n.pipeline}: ${n.status}${at ? ` at ${at.replace(' · ', ' / ')}` : ''}`), text: lines.join('\n') };
}

const ICON: Record<string, string> = {
  SUCCEEDED: ':white_check_mark:',
  FAILED: ':x:',
  TIMED_OUT: ':hourglass:',
  ABORTED: ':octagonal_sign:',
  SUPERSEDED: ':fast_forward:',
};

export function noticeSlack(n: ExecutionNotice): SlackMessage {
  const at = where(n);
  const head = `${ICON[n.status] ?? ':information_source:'} *${escapeSlack(n.pipeline)}* ${escapeSlack(n.status)}${at ? ` at *${escapeSlack(at)}*` : ''}`;
  const commit = n.commit.commitId
    ? `${n.commit.url ? `<${n.commit.url}|${escapeSlack(n.commit.commitId.slice(0, 12))}>` : escapeSlack(n.commit.commitId.slice(0, 12))}${n.commit.branch ? ` on ${escapeSlack(n.commit.branch)}` : ''}${n.commit.message ? `: ${escapeSlack(n.commit.message.split('\n')[0] ?? '')}` : ''}`
    : undefined;
  const details = [
    commit,
    n.failure?.message ? `\`${escapeSlack(n.failure.error ?? 'Error')}\` ${escapeSlack(n.failure.message)}` : undefined,
    `<${n.consoleUrl}|Execution ${escapeSlack(n.execution)}>`,
  ]
    .filter((l): l is string => l !== undefined)
    .join('\n');
  return {
    text: `${n.pipeline} ${n.status}${at ? ` at ${at}` : ''}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: head } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: details }] },
    ],
  };
}
