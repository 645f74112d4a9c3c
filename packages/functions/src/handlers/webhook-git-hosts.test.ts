/**
 * The webhook function with GitLab and Bitbucket Cloud deliveries (the documentation's example
 * payloads): each host told by its event header and authenticated against its own secret, bad or
 * missing credentials 401 with no StartExecution, a redelivery asking for the same execution name.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { sign } from '@octokit/webhooks-methods';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import bitbucketPush from '../../../../test/fixtures/webhooks/bitbucket-push.json';
import gitlabMergeRequest from '../../../../test/fixtures/webhooks/gitlab-merge-request.json';
import gitlabPush from '../../../../test/fixtures/webhooks/gitlab-push.json';
import { httpEvent, lambdaContext, recordingLogger } from '../../../../test/helpers/lambda-events';
import { makeWebhookHandler, webhookDependencies } from './webhook';

const SECRETS = { 'stepline/github': 'gh-secret', 'stepline/gitlab': 'gl-token', 'stepline/bitbucket': 'bb-secret' } as const;
const source = (name: string, provider: string, repository: string) => ({
  name,
  kind: 'source',
  provider,
  repository,
  branch: 'master',
  outputArtifacts: [name],
});
const PIPELINES = [
  { name: 'diaspora', stages: [{ name: 'Source', actions: [source('Lab', 'GitLab', 'mike/diaspora')] }] },
  {
    name: 'reviews',
    triggers: [{ pullRequest: [{ events: ['OPEN'], branches: { includes: ['master'] } }] }],
    stages: [{ name: 'Source', actions: [source('Lab', 'GitLab', 'gitlabhq/gitlab-test')] }],
  },
  {
    name: 'webhooks',
    triggers: [{ push: [{ branches: { includes: ['main'] } }] }],
    stages: [{ name: 'Source', actions: [source('Bucket', 'Bitbucket', 'emmap1/webhooks')] }],
  },
];

const sfn = mockClient(SFNClient);
const sm = mockClient(SecretsManagerClient);

function setup(env: Record<string, string> = { GITLAB_WEBHOOK_SECRET: 'stepline/gitlab', BITBUCKET_WEBHOOK_SECRET: 'stepline/bitbucket' }) {
  const { logger } = recordingLogger('webhook');
  const deps = webhookDependencies({
    GITHUB_WEBHOOK_SECRET: 'stepline/github',
    PIPELINES: JSON.stringify(PIPELINES),
    STATE_MACHINE_PREFIX: 'stepline-',
    ...env,
  });
  return makeWebhookHandler({ ...deps, logger });
}

const gitlab = (payload: unknown, headers: Record<string, string> = {}) =>
  httpEvent({
    headers: {
      'Content-Type': 'application/json',
      'X-Gitlab-Event': 'Push Hook',
      'X-Gitlab-Event-UUID': 'ev-1',
      'X-Gitlab-Token': SECRETS['stepline/gitlab'],
      ...headers,
    },
    body: JSON.stringify(payload),
  });
async function bitbucket(payload: unknown, headers: Record<string, string> = {}, secret: string = SECRETS['stepline/bitbucket']) {
  const body = JSON.stringify(payload);
  return httpEvent({
    headers: {
      'Content-Type': 'application/json',
      'X-Event-Key': 'repo:push',
      'X-Request-UUID': '{req-1}',
      'X-Hub-Signature': await sign(secret, body),
      ...headers,
    },
    body,
  });
}

const startedNames = () => sfn.commandCalls(StartExecutionCommand).map((c) => [c.args[0].input.stateMachineArn, c.args[0].input.name]);

describe('webhook handler with GitLab and Bitbucket', () => {
  beforeEach(() => {
    sfn.reset();
    sm.reset();
    sm.on(GetSecretValueCommand).callsFake(({ SecretId }: { SecretId: keyof typeof SECRETS }) => ({ SecretString: SECRETS[SecretId] }));
    // Step Functions keeps execution names unique: a second start of a name is ExecutionAlreadyExists.
    const names = new Set<string>();
    sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => {
      if (names.has(input.name)) throw new ExecutionAlreadyExists({ message: 'exists', $metadata: {} });
      names.add(input.name);
      return { executionArn: `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`, startDate: new Date() };
    });
    sfn.on(DescribeExecutionCommand).resolves({});
  });

  it('starts a GitLab push carrying the token, named by its Idempotency-Key, once across a retry', async () => {
    const handler = setup();
    const first = await handler(gitlab(gitlabPush, { 'Idempotency-Key': 'idem-1' }), lambdaContext());
    const retry = await handler(gitlab(gitlabPush, { 'Idempotency-Key': 'idem-1', 'X-Gitlab-Event-UUID': 'ev-2' }), lambdaContext());
    expect([first.statusCode, retry.statusCode]).toStrictEqual([202, 202]);
    expect(JSON.parse(String(retry.body)).executions).toMatchObject([{ pipeline: 'diaspora', status: 'already-started' }]);
    expect(startedNames()).toStrictEqual([
      ['arn:aws:states:us-east-1:123456789012:stateMachine:stepline-diaspora', 'idem-1'],
      ['arn:aws:states:us-east-1:123456789012:stateMachine:stepline-diaspora', 'idem-1'],
    ]);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input.source).toMatchObject({ repository: 'mike/diaspora', commitId: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', branchName: 'master' });
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'stepline/gitlab' });
  });

  it('starts a merge request opened against master', async () => {
    const response = await setup()(gitlab(gitlabMergeRequest, { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Event-UUID': 'mr-1' }), lambdaContext());
    expect(response.statusCode).toBe(202);
    expect(startedNames()).toStrictEqual([['arn:aws:states:us-east-1:123456789012:stateMachine:stepline-reviews', 'mr-1']]);
  });

  it("refuses GitLab deliveries without the right token, or with GitHub's secret, and starts nothing", async () => {
    const handler = setup();
    expect((await handler(gitlab(gitlabPush, { 'X-Gitlab-Token': 'wrong' }), lambdaContext())).statusCode).toBe(401);
    expect((await handler(gitlab(gitlabPush, { 'X-Gitlab-Token': SECRETS['stepline/github'] }), lambdaContext())).statusCode).toBe(401);
    const unsigned = httpEvent({ headers: { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Event-UUID': 'x' }, body: JSON.stringify(gitlabPush) });
    expect((await handler(unsigned, lambdaContext())).statusCode).toBe(401);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('starts a signed Bitbucket push once, however many attempts Bitbucket makes', async () => {
    const handler = setup();
    const first = await handler(await bitbucket(bitbucketPush), lambdaContext());
    const retry = await handler(await bitbucket(bitbucketPush, { 'X-Attempt-Number': '2' }), lambdaContext());
    expect([first.statusCode, retry.statusCode]).toStrictEqual([202, 202]);
    expect(JSON.parse(String(first.body)).executions).toMatchObject([{ pipeline: 'webhooks', status: 'started' }]);
    expect(JSON.parse(String(retry.body)).executions).toMatchObject([{ pipeline: 'webhooks', status: 'already-started' }]);
    expect(startedNames().map(([, name]) => name)).toStrictEqual(['-req-1-', '-req-1-']);
  });

  it('refuses Bitbucket deliveries signed with another secret or not signed, and starts nothing', async () => {
    const handler = setup();
    expect((await handler(await bitbucket(bitbucketPush, {}, 'wrong'), lambdaContext())).statusCode).toBe(401);
    const unsigned = httpEvent({ headers: { 'X-Event-Key': 'repo:push', 'X-Request-UUID': '{u}' }, body: JSON.stringify(bitbucketPush) });
    const refused = await handler(unsigned, lambdaContext());
    expect(refused.statusCode).toBe(401);
    expect(JSON.parse(String(refused.body))).toStrictEqual({ message: 'X-Hub-Signature does not match the body' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 404 for a host the installation has no secret for', async () => {
    const handler = setup({});
    const response = await handler(await bitbucket(bitbucketPush), lambdaContext());
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(String(response.body)).message).toBe('this installation takes no Bitbucket webhooks (BITBUCKET_WEBHOOK_SECRET is not set)');
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});
