import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { approvalIdFor, verifyApprovalLink } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext, recordingLogger, s3Body } from '../../../../test/helpers/lambda-events';
import { approvalRequestDependencies, makeApprovalRequestHandler } from './approval-request';

const KEY = 'link-signing-key';
const NOW = Date.parse('2026-03-01T10:00:00Z');
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd-secret-task-token';
const request = {
  taskToken: TOKEN,
  pipeline: 'web',
  stage: 'Prod',
  action: 'Approve',
  executionId: 'exec-42',
  source: { CommitId: '0123456789abcdef0123', BranchName: 'main', FullRepositoryName: 'acme/web', CommitMessage: 'Ship it', ProviderType: 'GitHub' },
  timeoutSeconds: 3600,
  customData: 'Look at staging first',
};

const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const sm = mockClient(SecretsManagerClient);

function setup(env: Record<string, string> = {}) {
  const { logger, lines } = recordingLogger('approval-request');
  const fetch = vi.fn(async () => new Response('ok', { status: 200 }));
  const deps = approvalRequestDependencies({
    LINK_SIGNING_KEY: 'stepline/link-key',
    ARTIFACT_BUCKET: 'artifacts',
    PUBLIC_URL: 'https://approve.example.com/',
    APPROVAL_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:approvals',
    AWS_REGION: 'us-east-1',
    ...env,
  });
  const handler = makeApprovalRequestHandler({ ...deps, logger, fetch });
  return { handler, lines, fetch };
}

describe('approval request handler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
    s3.reset();
    sns.reset();
    sm.reset();
    sm.on(GetSecretValueCommand, { SecretId: 'stepline/link-key' }).resolves({ SecretString: KEY });
    sm.on(GetSecretValueCommand, { SecretId: 'stepline/slack-webhook' }).resolves({ SecretString: 'https://hooks.slack.com/services/T/B/x' });
    s3.on(PutObjectCommand).resolves({ ETag: '"1"' });
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stores the token create-only under a derived id and publishes signed links', async () => {
    // Prepare
    const { handler, lines } = setup();
    const approvalId = approvalIdFor(KEY, TOKEN);
    // Act
    const result = await handler(request, lambdaContext());
    // Assess
    expect(result).toStrictEqual({ approvalId, expiresAt: '2026-03-01T11:00:00.000Z', notified: ['sns'] });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'artifacts', Key: `_stepline/approvals/${approvalId}/request.json`, IfNoneMatch: '*' });
    const stored = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body));
    expect(stored).toMatchObject({ approvalId, taskToken: TOKEN, expiresAt: NOW / 1000 + 3600, commit: { commitId: '0123456789abcdef0123' } });

    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:approvals',
      Subject: 'APPROVAL NEEDED: web / Prod / Approve',
      MessageStructure: 'json',
    });
    const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message));
    const document = JSON.parse(message.default);
    expect(document.approval).toMatchObject({
      pipelineName: 'web',
      stageName: 'Prod',
      actionName: 'Approve',
      expires: '2026-03-01T11:00:00.000Z',
      customData: 'Look at staging first',
      commit: { url: 'https://github.com/acme/web/commit/0123456789abcdef0123' },
    });
    const approve = new URL(document.approval.approveUrl);
    expect(approve.origin).toBe('https://approve.example.com');
    expect(verifyApprovalLink(KEY, approve.searchParams.get('token') ?? '', NOW / 1000)).toMatchObject({
      ok: true,
      claims: { approvalId, decision: 'approve' },
    });
    expect(verifyApprovalLink(KEY, new URL(document.approval.rejectUrl).searchParams.get('token') ?? '', NOW / 1000)).toMatchObject({
      ok: true,
      claims: { decision: 'reject' },
    });
    expect(message.email).toContain('Reject:  https://approve.example.com/?token=');

    // The token stays in S3: not in the message, not in a log line.
    expect(JSON.stringify(sns.calls().map((c) => c.args[0].input))).not.toContain(TOKEN);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
  });

  it('posts a Block Kit message with both buttons to the Slack webhook when configured', async () => {
    const { handler, fetch } = setup({ SLACK_WEBHOOK_URL: 'stepline/slack-webhook', APPROVAL_TOPIC_ARN: '' });
    const result = await handler(request, lambdaContext());
    expect(result.notified).toStrictEqual(['slack']);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('https://hooks.slack.com/services/T/B/x');
    const body = JSON.parse(String(init.body));
    expect(body.text).toBe('Approval needed: web · Prod · Approve');
    const buttons = body.blocks.at(-1).elements;
    expect(buttons.map((b: { action_id: string }) => b.action_id)).toStrictEqual(['stepline_approve', 'stepline_reject']);
    expect(verifyApprovalLink(KEY, buttons[0].value, NOW / 1000).ok).toBe(true);
    expect(String(init.body)).not.toContain(TOKEN);
  });

  it('publishes to the topic the approval names', async () => {
    const { handler } = setup();
    await handler({ ...request, notificationArn: 'arn:aws:sns:us-east-1:123456789012:team' }, lambdaContext());
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: 'arn:aws:sns:us-east-1:123456789012:team' });
  });

  it('reuses the stored approval on a retry, so the links keep their expiry', async () => {
    // Prepare: the first attempt stored the approval an hour ago.
    const approvalId = approvalIdFor(KEY, TOKEN);
    const earlier = {
      approvalId,
      taskToken: TOKEN,
      pipeline: 'web',
      stage: 'Prod',
      action: 'Approve',
      executionId: 'exec-42',
      commit: {},
      createdAt: 'x',
      expiresAt: 1_772_000_000,
    };
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      }),
    );
    s3.on(GetObjectCommand).resolves({ Body: s3Body(JSON.stringify(earlier)) });
    const { handler } = setup();
    // Act
    const result = await handler(request, lambdaContext());
    // Assess
    expect(result.expiresAt).toBe(new Date(1_772_000_000_000).toISOString());
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('fails the Task when no channel could be reached, and refuses malformed requests', async () => {
    sns.on(PublishCommand).rejects(new Error('sns down'));
    const { handler } = setup();
    await expect(handler(request, lambdaContext())).rejects.toMatchObject({ name: 'Stepline.Transient', retryable: true });
    await expect(handler({ ...request, timeoutSeconds: 'soon' }, lambdaContext())).rejects.toMatchObject({ name: 'Stepline.ActionFailed' });
  });
});
