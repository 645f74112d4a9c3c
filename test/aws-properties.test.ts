/**
 * Properties of the HTTP functions under random input (fast-check): random bodies, headers, methods,
 * links and Slack requests are never answered with a 5xx, and nothing is started or decided without a
 * valid signature.
 */
import { createHmac } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { sign } from '@octokit/webhooks-methods';
import { type ApprovalRecord, approvalIdFor, executionName, signApprovalLink } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryApprovalStore } from '../packages/functions/src/approvals/store';
import { approvalRequestDependencies, makeApprovalRequestHandler } from '../packages/functions/src/handlers/approval-request';
import { approvalResponseDependencies, makeApprovalResponseHandler } from '../packages/functions/src/handlers/approval-response';
import { makeWebhookHandler, webhookDependencies } from '../packages/functions/src/handlers/webhook';
import { httpEvent, lambdaContext, recordingLogger } from './helpers/lambda-events';

const WEBHOOK_SECRET = 'property-webhook-secret';
const LINK_KEY = 'property-link-key';
const SLACK_SECRET = 'property-slack-secret';
const NOW = 1_800_000_000;

const sfn = mockClient(SFNClient);
const sm = mockClient(SecretsManagerClient);
const sns = mockClient(SNSClient);

/** Each property runs this many random cases. */
const RUNS = { numRuns: 300 };

/** Sends an event to a function URL's handler; whatever it was, the answer is not a server error. */
async function answerOf(
  handler: (event: ReturnType<typeof httpEvent>, context: ReturnType<typeof lambdaContext>) => Promise<{ statusCode: number }>,
  event: ReturnType<typeof httpEvent>,
) {
  const response = await handler(event, lambdaContext());
  expect(response.statusCode).toBeLessThan(500);
  return response;
}

/** No approval was decided: no task token was answered. */
function expectNoDecision() {
  expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
}

const PIPELINES = [
  {
    name: 'web',
    triggers: [{ push: [{ branches: { includes: ['**'] } }, { tags: { includes: ['v*'] } }] }, { pullRequest: [{ events: ['OPEN', 'UPDATED', 'CLOSED'] }] }],
    stages: [
      { name: 'Source', actions: [{ name: 'App', kind: 'source', repository: 'acme/web', outputArtifacts: ['src'] }] },
      { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['src'] }] },
    ],
  },
];

beforeEach(() => {
  sfn.reset();
  sm.reset();
  sns.reset();
  sm.on(GetSecretValueCommand, { SecretId: 'webhook' }).resolves({ SecretString: WEBHOOK_SECRET });
  sm.on(GetSecretValueCommand, { SecretId: 'link-key' }).resolves({ SecretString: LINK_KEY });
  sm.on(GetSecretValueCommand, { SecretId: 'slack' }).resolves({ SecretString: SLACK_SECRET });
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:m:x', startDate: new Date() });
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

const headerValue = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('push', 'pull_request', 'ping', 'create', 'issues', 'application/json'));
const signatureLike = fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^sha256=[0-9a-f]{64}$/), fc.constant(undefined));
const bodyArb = fc.oneof(
  fc.string({ maxLength: 500 }),
  fc.json({ maxDepth: 4 }),
  fc
    .record(
      {
        ref: fc.oneof(fc.constantFrom('refs/heads/main', 'refs/tags/v1', 'refs/notes/x'), fc.string()),
        after: fc.stringMatching(/^[0-9a-f]{40}$/),
        deleted: fc.boolean(),
        repository: fc.record({ full_name: fc.oneof(fc.constant('acme/web'), fc.string()) }),
        commits: fc.array(fc.record({ id: fc.string(), added: fc.array(fc.string(), { maxLength: 3 }) }, { requiredKeys: ['id'] }), { maxLength: 3 }),
        action: fc.constantFrom('opened', 'synchronize', 'closed', 'labeled'),
        number: fc.oneof(fc.integer(), fc.string()),
        pull_request: fc.record({ head: fc.record({ sha: fc.string(), ref: fc.string() }), base: fc.record({ ref: fc.string() }) }),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
);

const VALID_PUSH = JSON.stringify({
  ref: 'refs/heads/main',
  after: 'a'.repeat(40),
  deleted: false,
  repository: { full_name: 'acme/web' },
  commits: [{ id: 'a'.repeat(40), added: ['src/app.ts'] }],
});

describe('webhook handler properties', () => {
  const make = () => {
    const { logger } = recordingLogger('webhook');
    return makeWebhookHandler({
      ...webhookDependencies({ GITHUB_WEBHOOK_SECRET: 'webhook', PIPELINES: JSON.stringify(PIPELINES), STATE_MACHINE_PREFIX: 'stepline-' }),
      logger,
    });
  };

  it('never answers 5xx and never starts anything for requests it cannot verify', async () => {
    const handler = make();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'),
        fc.dictionary(fc.constantFrom('x-github-event', 'x-github-delivery', 'content-type', 'X-GitHub-Event', 'x-other'), headerValue),
        signatureLike,
        bodyArb,
        fc.boolean(),
        async (method, headers, signature, body, base64) => {
          await answerOf(
            handler,
            httpEvent({ method, headers: { ...headers, ...(signature !== undefined && { 'x-hub-signature-256': signature }) }, body, base64 }),
          );
        },
      ),
      RUNS,
    );
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('never answers 5xx to signed deliveries, and names every run it starts from the delivery', async () => {
    const handler = make();
    let started = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('push', 'pull_request', 'ping', 'create', 'release'),
        fc.string({ minLength: 1, maxLength: 100 }),
        // Random bodies alone reach a start about once in a few thousand: a real push is mixed in, so
        // that every run of this test walks the starting path too.
        fc.oneof(bodyArb, fc.constant(VALID_PUSH)),
        async (event, delivery, body) => {
          sfn.resetHistory();
          const response = await answerOf(
            handler,
            httpEvent({
              headers: { 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': await sign(WEBHOOK_SECRET, body || ' ') },
              body: body || ' ',
            }),
          );
          for (const call of sfn.commandCalls(StartExecutionCommand)) expect(call.args[0].input.name).toBe(executionName(delivery));
          started += sfn.commandCalls(StartExecutionCommand).length;
          if (response.statusCode >= 400) expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
        },
      ),
      RUNS,
    );
    // The generator reaches the starting path too, not only refusals.
    expect(started).toBeGreaterThan(0);
  });
});

describe('approval handler properties', () => {
  const record: ApprovalRecord = {
    approvalId: approvalIdFor(LINK_KEY, 'the-task-token'),
    taskToken: 'the-task-token',
    pipeline: 'web',
    stage: 'Prod',
    action: 'Approve',
    executionId: 'e',
    commit: {},
    createdAt: new Date(NOW * 1000).toISOString(),
    expiresAt: NOW + 3600,
  };
  const valid = signApprovalLink(LINK_KEY, { approvalId: record.approvalId, decision: 'approve', expiresAt: record.expiresAt });

  const make = () => {
    const store = new MemoryApprovalStore();
    store.requests.set(record.approvalId, record);
    const { logger } = recordingLogger('approval-response');
    const handler = makeApprovalResponseHandler({
      ...approvalResponseDependencies({ LINK_SIGNING_KEY: 'link-key', ARTIFACT_BUCKET: 'b', SLACK_SIGNING_SECRET: 'slack' }),
      store: () => store,
      logger,
      now: () => new Date(NOW * 1000),
      fetch: async () => new Response('ok'),
    });
    return { handler, store };
  };

  /** A token that looks like a link: well-formed parts, or a valid link with one character changed. */
  const tokenArb = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc
      .tuple(
        fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
        fc.constantFrom('a', 'r', 'x'),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      )
      .map(([id, d, exp, sig]) => `${id}.${d}.${exp}.${sig}`),
    fc
      .tuple(fc.nat({ max: valid.length - 1 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'))
      .map(([i, c]) => `${valid.slice(0, i)}${c}${valid.slice(i + 1)}`)
      .filter((t) => t !== valid),
  );

  it('never answers 5xx and never decides on a link it did not sign', async () => {
    const { handler } = make();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'HEAD', 'PUT'),
        tokenArb,
        fc.oneof(fc.constant('application/x-www-form-urlencoded'), fc.string({ maxLength: 40 })),
        fc.string({ maxLength: 300 }),
        fc.string({ maxLength: 100 }),
        async (method, token, contentType, comment, email) => {
          const form = new URLSearchParams({ token, comment, email }).toString();
          await answerOf(
            handler,
            httpEvent({ method, headers: { 'content-type': contentType }, query: `token=${encodeURIComponent(token)}`, body: method === 'POST' ? form : '' }),
          );
        },
      ),
      RUNS,
    );
    expectNoDecision();
  });

  it('never decides on Slack requests without a valid Slack signature, nor on forged links inside signed ones', async () => {
    const { handler } = make();
    const slackSignature = (ts: string, body: string) => `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
    await fc.assert(
      fc.asyncProperty(
        tokenArb,
        fc.string({ maxLength: 20 }),
        fc.boolean(),
        fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: NOW - 1000, max: NOW + 1000 }).map(String)),
        fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^v0=[0-9a-f]{64}$/)),
        async (token, user, signIt, ts, randomSignature) => {
          const body = `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: user || 'U1' }, actions: [{ action_id: 'stepline_approve', value: token }] }))}`;
          const signature = signIt ? slackSignature(ts, body) : randomSignature;
          await answerOf(
            handler,
            httpEvent({
              headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signature },
              body,
            }),
          );
        },
      ),
      RUNS,
    );
    expectNoDecision();
  });

  it('decides exactly once when the valid link is used, whatever else arrives around it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(tokenArb, { maxLength: 5 }), fc.integer({ min: 1, max: 3 }), async (noise, uses) => {
        sfn.resetHistory();
        const { handler } = make();
        const post = (token: string) =>
          handler(
            httpEvent({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(token)}` }),
            lambdaContext(),
          );
        for (const t of noise) expect((await post(t)).statusCode).toBeLessThan(500);
        const answers = [];
        for (let i = 0; i < uses; i++) answers.push((await post(valid)).statusCode);
        expect(answers).toStrictEqual([200, ...Array(uses - 1).fill(409)]);
        // A reuse redelivers the recorded decision (harmless: Step Functions refuses a second answer); it never makes another.
        const outputs = new Set(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.output));
        expect(outputs.size).toBe(1);
        expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
      }),
      { numRuns: 40 },
    );
  });

  it('stores and sends nothing for events that are not approval requests', async () => {
    const store = new MemoryApprovalStore();
    const handler = makeApprovalRequestHandler({
      ...approvalRequestDependencies({
        LINK_SIGNING_KEY: 'link-key',
        ARTIFACT_BUCKET: 'b',
        PUBLIC_URL: 'https://a.example/',
        APPROVAL_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:t',
      }),
      store: () => store,
      logger: recordingLogger().logger,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json({ maxDepth: 3 }).map((j) => JSON.parse(j) as unknown),
          fc.anything(),
        ),
        async (event) => {
          await expect(handler(event, lambdaContext())).rejects.toMatchObject({ name: 'Stepline.ActionFailed' });
        },
      ),
      { numRuns: 200 },
    );
    expect(store.requests.size).toBe(0);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });
});
