import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { sign } from '@octokit/webhooks-methods';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { httpEvent, lambdaContext, recordingLogger, s3Body } from '../../../../test/helpers/lambda-events';
import { makeWebhookHandler, webhookDependencies } from './webhook';

const SECRET = 'webhook-s3cret';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:stepline/github-AbCdEf';
const MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:stepline-web';
const PIPELINES = [
  {
    name: 'web',
    stages: [
      { name: 'Source', actions: [{ name: 'App', kind: 'source', repository: 'acme/web', branch: 'main', outputArtifacts: ['src'] }] },
      { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['src'] }] },
    ],
  },
];

const sfn = mockClient(SFNClient);
const sm = mockClient(SecretsManagerClient);
const s3 = mockClient(S3Client);

const pushBody = JSON.stringify({
  ref: 'refs/heads/main',
  after: 'a'.repeat(40),
  deleted: false,
  repository: { full_name: 'acme/web' },
  head_commit: { id: 'a'.repeat(40), message: 'Ship', timestamp: '2026-01-01T00:00:00Z', author: { name: 'Ada' } },
  commits: [{ id: 'a'.repeat(40), added: [], modified: ['index.ts'], removed: [] }],
  sender: { login: 'ada' },
});

function setup(env: Record<string, string> = {}) {
  const { logger, lines } = recordingLogger('webhook');
  const deps = webhookDependencies({
    GITHUB_WEBHOOK_SECRET: SECRET_ARN,
    PIPELINES: JSON.stringify(PIPELINES),
    STATE_MACHINE_ARNS: JSON.stringify({ web: MACHINE }),
    ...env,
  });
  return { handler: makeWebhookHandler({ ...deps, logger }), lines };
}

async function delivery(body: string, event = 'push', id = '72d3162e-cc78-11e3-81ab-4c9367dc0958', secret = SECRET) {
  return httpEvent({
    headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': event, 'X-GitHub-Delivery': id, 'X-Hub-Signature-256': await sign(secret, body) },
    body,
  });
}

describe('webhook handler', () => {
  beforeEach(() => {
    sfn.reset();
    sm.reset();
    s3.reset();
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: SECRET });
  });

  it('starts the matching pipeline, named from the delivery, with the commit in its input', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE}:x`, startDate: new Date() });
    const { handler } = setup();
    // Act
    const response = await handler(await delivery(pushBody), lambdaContext());
    // Assess
    expect(response.statusCode).toBe(202);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: MACHINE, name: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input).toStrictEqual({
      pipeline: 'web',
      trigger: { type: 'Webhook', deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958', event: 'push', actor: 'ada' },
      source: {
        repository: 'acme/web',
        commitId: 'a'.repeat(40),
        branchName: 'main',
        commitMessage: 'Ship',
        authorName: 'Ada',
        authorDate: '2026-01-01T00:00:00Z',
      },
      variables: {},
    });
  });

  it('treats ExecutionAlreadyExists as already started, and says whether the input matched', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    const { handler, lines } = setup();
    sfn.on(DescribeExecutionCommand).resolves({ input: '{"pipeline":"web","changed":true}' });
    const first = await handler(await delivery(pushBody), lambdaContext());
    expect(first.statusCode).toBe(202);
    expect(JSON.parse(String(first.body)).executions).toStrictEqual([
      {
        pipeline: 'web',
        status: 'already-started',
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:stepline-web:72d3162e-cc78-11e3-81ab-4c9367dc0958',
        sameInput: false,
      },
    ]);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(lines.some((l) => l.message === 'execution already started')).toBe(true);
  });

  it('answers ping, refuses bad signatures and wrong methods, and never starts then', async () => {
    const { handler } = setup();
    expect((await handler(await delivery('{"zen":"x"}', 'ping'), lambdaContext())).statusCode).toBe(200);
    expect((await handler(await delivery(pushBody, 'push', 'd', 'wrong-secret'), lambdaContext())).statusCode).toBe(401);
    const unsigned = httpEvent({ headers: { 'x-github-event': 'push', 'x-github-delivery': 'd' }, body: pushBody });
    expect((await handler(unsigned, lambdaContext())).statusCode).toBe(401);
    expect((await handler(httpEvent({ method: 'GET' }), lambdaContext())).statusCode).toBe(405);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('reads the secret once, and again only when a signature fails on an old value (rotation)', async () => {
    const { handler } = setup();
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn' });
    await handler(await delivery(pushBody), lambdaContext());
    await handler(await delivery(pushBody, 'push', 'd2'), lambdaContext());
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  it('answers 400 to malformed payloads and 202 with a reason to ignored events', async () => {
    const { handler } = setup();
    expect((await handler(await delivery('{"ref": 3}'), lambdaContext())).statusCode).toBe(400);
    expect((await handler(await delivery('not json'), lambdaContext())).statusCode).toBe(400);
    const ignored = await handler(await delivery('{"ref":"simple-tag","ref_type":"tag"}', 'create'), lambdaContext());
    expect(ignored.statusCode).toBe(202);
    expect(JSON.parse(String(ignored.body)).ignored).toMatch(/push event/);
  });

  it('accepts form-encoded deliveries and base64 bodies', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn' });
    const { handler } = setup();
    const body = `payload=${encodeURIComponent(pushBody)}`;
    const event = httpEvent({
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'push',
        'x-github-delivery': 'f1',
        'x-hub-signature-256': await sign(SECRET, body),
      },
      body,
      base64: true,
    });
    expect((await handler(event, lambdaContext())).statusCode).toBe(202);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: 'f1' });
  });

  it('answers 503 when Step Functions fails, so GitHub can redeliver', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    const { handler } = setup();
    const response = await handler(await delivery(pushBody), lambdaContext());
    expect(response.statusCode).toBe(503);
  });

  it('reads pipelines from S3 and derives state machine ARNs from a prefix', async () => {
    s3.on(GetObjectCommand, { Bucket: 'cfg', Key: 'pipelines.json' }).resolves({
      Body: s3Body(JSON.stringify(PIPELINES)),
    });
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn' });
    const { handler } = setup({ PIPELINES: 's3://cfg/pipelines.json', STATE_MACHINE_ARNS: '', STATE_MACHINE_PREFIX: 'stepline-' });
    expect((await handler(await delivery(pushBody), lambdaContext())).statusCode).toBe(202);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: MACHINE });
  });
});
