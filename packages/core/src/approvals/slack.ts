/**
 * Slack: the request signature check, the approval message (Block Kit, with Approve and Reject buttons)
 * and the interaction payload a button click sends back.
 * @see https://api.slack.com/authentication/verifying-requests-from-slack
 * @see https://api.slack.com/reference/interaction-payloads/block-actions
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import type { ApprovalLinks } from './links';
import { type ApprovalRecord, commitUrl } from './request';

/** Slack refuses requests older than five minutes, to stop replays; so does stepline. */
export const SLACK_MAX_AGE_SECONDS = 5 * 60;
export const SlackActionId = { Approve: 'stepline_approve', Reject: 'stepline_reject' } as const;

/**
 * Whether a request comes from Slack: `X-Slack-Signature` is `v0=` and the hex HMAC-SHA256 of
 * `v0:<X-Slack-Request-Timestamp>:<raw body>` under the signing secret, and the timestamp is within
 * five minutes of `nowSeconds`. Never throws.
 */
export function verifySlackSignature(
  signingSecret: string,
  body: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  nowSeconds: number,
): boolean {
  if (!signingSecret || timestampHeader === undefined || signatureHeader === undefined) return false;
  if (!/^[0-9]{1,12}$/.test(timestampHeader) || !/^v0=[0-9a-f]{64}$/.test(signatureHeader)) return false;
  if (Math.abs(nowSeconds - Number(timestampHeader)) > SLACK_MAX_AGE_SECONDS) return false;
  const expected = Buffer.from(`v0=${createHmac('sha256', signingSecret).update(`v0:${timestampHeader}:${body}`).digest('hex')}`);
  const given = Buffer.from(signatureHeader);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

const SlackInteractionSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().min(1), username: z.string().optional(), name: z.string().optional() }),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
  response_url: z.string().optional(),
});

export interface SlackInteraction {
  userId: string;
  userName: string | undefined;
  /** The approval link token the button carried. */
  linkToken: string;
  /** Where to replace the message once decided; only Slack's own hooks host is kept. */
  responseUrl: string | undefined;
}

/**
 * The click on an Approve or Reject button, from the form-encoded body Slack posts (`payload=<json>`);
 * `undefined` when the body is anything else. Check the signature first.
 */
export function parseSlackInteraction(body: string): SlackInteraction | undefined {
  const raw = new URLSearchParams(body).get('payload');
  if (raw === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = SlackInteractionSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const action = parsed.data.actions.find((a) => a.action_id === SlackActionId.Approve || a.action_id === SlackActionId.Reject);
  if (!action?.value) return undefined;
  const url = parsed.data.response_url;
  return {
    userId: parsed.data.user.id,
    userName: parsed.data.user.username ?? parsed.data.user.name,
    linkToken: action.value,
    responseUrl: url?.startsWith('https://hooks.slack.com/') ? url : undefined,
  };
}

/** Slack's mrkdwn treats only `&`, `<` and `>` as control characters. */
export const escapeSlack = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

type Block = Record<string, unknown>;
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/** The approval request as a Slack message: what to approve, the commit, the custom data, the expiry and two buttons. */
export function slackApprovalMessage(record: Omit<ApprovalRecord, 'taskToken'>, links: ApprovalLinks): SlackMessage {
  const where = `${record.pipeline} · ${record.stage} · ${record.action}`;
  const url = commitUrl(record.commit);
  const commit = record.commit.commitId
    ? url
      ? `<${url}|${escapeSlack(record.commit.commitId.slice(0, 12))}>`
      : escapeSlack(record.commit.commitId.slice(0, 12))
    : 'unknown';
  const fields = [
    `*Pipeline*\n${escapeSlack(record.pipeline)}`,
    `*Stage · action*\n${escapeSlack(`${record.stage} · ${record.action}`)}`,
    `*Commit*\n${commit}${record.commit.branch ? ` on ${escapeSlack(record.commit.branch)}` : ''}`,
    `*Execution*\n${escapeSlack(record.executionId)}`,
  ];
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${record.pipeline}`.slice(0, 150) } },
    { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text })) },
  ];
  if (record.commit.message) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `>${escapeSlack(firstLine(record.commit.message))}` } });
  if (record.customData) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: escapeSlack(record.customData) } });
  if (record.externalEntityLink && /^https?:\/\//.test(record.externalEntityLink))
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${escapeSlack(record.externalEntityLink)}|Review>` } });
  const expires = new Date(record.expiresAt * 1000).toISOString();
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `Expires <!date^${record.expiresAt}^{date_short_pretty} {time}|${expires}> · <${links.approveUrl}|approve> or <${links.rejectUrl}|reject> with a comment in the browser`,
      },
    ],
  });
  blocks.push({
    type: 'actions',
    block_id: 'stepline_approval',
    elements: [
      { type: 'button', action_id: SlackActionId.Approve, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: links.approveToken },
      { type: 'button', action_id: SlackActionId.Reject, style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: links.rejectToken },
    ],
  });
  return { text: `Approval needed: ${where}`, blocks };
}

/** What replaces the approval message once someone decided (sent to the interaction's `response_url`). */
export function slackDecisionMessage(record: Pick<ApprovalRecord, 'pipeline' | 'stage' | 'action'>, outcome: string): SlackMessage {
  const text = `${record.pipeline} · ${record.stage} · ${record.action}: ${outcome}`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: escapeSlack(text) } }] };
}

const firstLine = (text: string) => (text.split('\n')[0] ?? '').slice(0, 200);
