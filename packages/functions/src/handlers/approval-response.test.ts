import { createHmac } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { type ApprovalRecord, approvalIdFor, signApprovalLink } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { httpEvent, lambdaContext, recordingLogger } from '../../../../test/helpers/lambda-events';
import { MemoryApprovalStore } from '../approvals/store';
import { approvalResponseDependencies, makeApprovalResponseHandler } from './approval-response';

const KEY = 'link-signing-key';
const SLACK_SECRET = 'slack-signing-secret';
const NOW = Date.parse('2026-03-01T10:00:00Z') / 1000;
const TOKEN = 'secret-task-token-0001';
const ID = approvalIdFor(KEY, TOKEN);

const sfn = mockClient(SFNClient);
const sm = mockClient(SecretsManagerClient);

function record(over: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    approvalId: ID,
    taskToken: TOKEN,
    pipeline: 'web',
    stage: 'Prod',
    action: 'Approve',
    executionId: 'exec-42',
    commit: { repository: 'acme/web', commitId: '0123456789abcdef', branch: 'main', provider: 'GitHub' },
    customData: 'Look at staging',
    createdAt: new Date(NOW * 1000).toISOString(),
    expiresAt: NOW + 3600,
    ...over,
  };
}

const link = (decision: 'approve' | 'reject', expiresAt = NOW + 3600, approvalId = ID) => signApprovalLink(KEY, { approvalId, decision, expiresAt });

function setup(stored: ApprovalRecord | undefined = record()) {
  const store = new MemoryApprovalStore();
  if (stored) store.requests.set(stored.approvalId, stored);
  const { logger, lines } = recordingLogger('approval-response');
  const fetch = vi.fn(async () => new Response('ok', { status: 200 }));
  const deps = approvalResponseDependencies({
    LINK_SIGNING_KEY: 'stepline/link-key',
    ARTIFACT_BUCKET: 'b',
    PUBLIC_URL: 'https://approve.example.com/',
    SLACK_SIGNING_SECRET: 'stepline/slack-signing',
  });
  const handler = makeApprovalResponseHandler({ ...deps, store: () => store, logger, fetch });
  const get = (token: string) => handler(httpEvent({ method: 'GET', query: `token=${encodeURIComponent(token)}` }), lambdaContext());
  const post = (fields: Record<string, string>) =>
    handler(
      httpEvent({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() }),
      lambdaContext(),
    );
  return { handler, store, lines, fetch, get, post };
}

function slackEvent(body: string, ts = NOW, secret = SLACK_SECRET) {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
  return httpEvent({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature },
    body,
  });
}

const slackClick = (token: string, user = 'U123') =>
  `payload=${encodeURIComponent(
    JSON.stringify({
      type: 'block_actions',
      user: { id: user, username: 'ada' },
      actions: [{ action_id: 'stepline_approve', value: token }],
      response_url: 'https://hooks.slack.com/actions/T/1/x',
    }),
  )}`;

describe('approval response handler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW * 1000, toFake: ['Date'] });
    sfn.reset();
    sm.reset();
    sm.on(GetSecretValueCommand, { SecretId: 'stepline/link-key' }).resolves({ SecretString: KEY });
    sm.on(GetSecretValueCommand, { SecretId: 'stepline/slack-signing' }).resolves({ SecretString: SLACK_SECRET });
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shows the approval and a comment box on GET, and decides nothing', async () => {
    const { get } = setup();
    const response = await get(link('approve'));
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    expect(response.body).toContain('<textarea name="comment"');
    expect(response.body).toContain('Look at staging');
    expect(response.body).toContain('https://github.com/acme/web/commit/0123456789abcdef');
    expect(response.body).not.toContain(TOKEN);
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('approves on POST with the approver and the comment', async () => {
    const { post } = setup();
    const response = await post({ token: link('approve'), email: 'ada@example.com', comment: 'Looks good' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Approved by ada@example.com');
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: TOKEN,
      output: JSON.stringify({ approvedBy: 'ada@example.com', comment: 'Looks good', decidedAt: '2026-03-01T10:00:00.000Z' }),
    });
  });

  it('rejects with Stepline.ApprovalRejected', async () => {
    const { post } = setup();
    const response = await post({ token: link('reject'), comment: 'Not today' });
    expect(response.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: 'Stepline.ApprovalRejected',
      cause: 'Rejected by anonymous (approval link): Not today',
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('decides once: a reused link or the other link gets 409 and names the first decision', async () => {
    const { post, get } = setup();
    await post({ token: link('approve'), email: 'ada@example.com' });
    const again = await post({ token: link('reject'), email: 'bob@example.com' });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('already approved by ada@example.com');
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
    expect((await get(link('approve'))).statusCode).toBe(409);
  });

  it('refuses expired, forged, malformed and unknown links with a page and a 4xx', async () => {
    const { post, get } = setup();
    const token = link('approve');
    vi.setSystemTime((NOW + 3600) * 1000);
    expect((await post({ token })).statusCode).toBe(410);
    expect((await get(token)).statusCode).toBe(410);
    vi.setSystemTime(NOW * 1000);
    expect((await post({ token: signApprovalLink('not-the-key', { approvalId: ID, decision: 'approve', expiresAt: NOW + 60 }) })).statusCode).toBe(403);
    expect((await post({ token: 'garbage' })).statusCode).toBe(400);
    expect((await get('')).statusCode).toBe(400);
    expect((await post({ token: link('approve', NOW + 60, 'x'.repeat(32)) })).statusCode).toBe(404);
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('enforces the allowlist of e-mail domains', async () => {
    const { post } = setup(record({ approvers: { emailDomains: ['example.com'] } }));
    const missing = await post({ token: link('approve') });
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toContain('Enter your e-mail address');
    expect((await post({ token: link('approve'), email: 'eve@evil.test' })).statusCode).toBe(403);
    expect((await post({ token: link('approve'), email: 'not-an-address' })).statusCode).toBe(400);
    expect(sfn).not.toHaveReceivedAnyCommand();
    expect((await post({ token: link('approve'), email: 'ada@example.com' })).statusCode).toBe(200);
  });

  it('says when the execution no longer waits (410), and redelivers a decision Step Functions missed', async () => {
    const closed = setup();
    sfn.on(SendTaskSuccessCommand).rejectsOnce(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    expect((await closed.post({ token: link('approve') })).statusCode).toBe(410);

    sfn.reset();
    sfn
      .on(SendTaskSuccessCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({});
    const { post } = setup();
    const first = await post({ token: link('approve'), email: 'ada@example.com' });
    expect(first.statusCode).toBe(503);
    expect(first.body).toContain('open the link again');
    const second = await post({ token: link('approve'), email: 'ada@example.com' });
    expect(second.statusCode).toBe(409);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 2);
  });

  it('decides from a signed Slack click, and replaces the Slack message', async () => {
    const { handler, fetch } = setup(record({ approvers: { slackUserIds: ['U123'] } }));
    const response = await handler(slackEvent(slackClick(link('approve'))), lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: TOKEN,
      output: JSON.stringify({ approvedBy: 'ada (Slack U123)', comment: '', decidedAt: '2026-03-01T10:00:00.000Z' }),
    });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('https://hooks.slack.com/actions/T/1/x');
    expect(JSON.parse(String(init.body))).toMatchObject({ replace_original: true, text: 'web · Prod · Approve: Approved by <@U123>' });
  });

  it('refuses Slack requests with a bad or stale signature, and Slack users not on the allowlist', async () => {
    const { handler } = setup(record({ approvers: { slackUserIds: ['U123'] } }));
    expect((await handler(slackEvent(slackClick(link('approve')), NOW, 'wrong'), lambdaContext())).statusCode).toBe(401);
    expect((await handler(slackEvent(slackClick(link('approve')), NOW - 301), lambdaContext())).statusCode).toBe(401);
    const outsider = await handler(slackEvent(slackClick(link('approve'), 'U999')), lambdaContext());
    expect(JSON.parse(String(outsider.body)).text).toMatch(/Only the Slack users it lists may decide/);
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('answers other methods 405', async () => {
    const { handler } = setup();
    expect((await handler(httpEvent({ method: 'DELETE' }), lambdaContext())).statusCode).toBe(405);
  });
});
