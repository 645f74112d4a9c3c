/**
 * Every push, pull_request, create (tag) and ping example payload of `@octokit/webhooks-examples`,
 * signed with the test secret, goes through the webhook handler: each either starts an execution or is
 * skipped or ignored with a logged reason, and none is answered with a 5xx.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import examples from '@octokit/webhooks-examples';
import { sign } from '@octokit/webhooks-methods';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeWebhookHandler, webhookDependencies } from '../packages/functions/src/handlers/webhook';
import { httpEvent, lambdaContext, recordingLogger } from './helpers/lambda-events';

const SECRET = 'examples-secret';
const sfn = mockClient(SFNClient);
const sm = mockClient(SecretsManagerClient);

const source = { name: 'Source', actions: [{ name: 'App', kind: 'source', repository: 'Codertocat/Hello-World', branch: 'master', outputArtifacts: ['src'] }] };
const build = { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['src'] }] };
const PIPELINES = [
  { name: 'main', stages: [source, build] },
  { name: 'release', triggers: [{ push: [{ tags: { includes: ['**'] } }] }], stages: [source, build] },
  { name: 'pulls', triggers: [{ pullRequest: [{ events: ['OPEN', 'UPDATED', 'CLOSED'], branches: { includes: ['master'] } }] }], stages: [source, build] },
];

const EVENTS = ['push', 'pull_request', 'create', 'ping'] as const;
const cases = EVENTS.flatMap((event) =>
  (examples.find((e) => e.name === event)?.examples ?? []).map((payload, i) => ({ event, i, payload: payload as unknown as Record<string, unknown> })),
);

describe('webhook handler with the GitHub example payloads', () => {
  beforeEach(() => {
    sfn.reset();
    sm.reset();
    sm.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
      executionArn: `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`,
      startDate: new Date(),
    }));
  });

  it('has examples of every event it handles', () => {
    expect(new Set(cases.map((c) => c.event))).toStrictEqual(new Set(EVENTS));
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [`${c.event} #${c.i}${typeof c.payload.action === 'string' ? ` (${c.payload.action})` : ''}`, c] as const))(
    '%s starts an execution or says why not',
    async (_label, { event, i, payload }) => {
      // Prepare
      const { logger, lines } = recordingLogger('webhook');
      const handler = makeWebhookHandler({
        ...webhookDependencies({
          GITHUB_WEBHOOK_SECRET: 'stepline/github',
          PIPELINES: JSON.stringify(PIPELINES),
          STATE_MACHINE_PREFIX: 'stepline-',
        }),
        logger,
      });
      const body = JSON.stringify(payload);
      const delivery = `${event}-${i}-00000000-0000-0000-0000-000000000000`;
      // Act
      const response = await handler(
        httpEvent({
          headers: {
            'content-type': 'application/json',
            'x-github-event': event,
            'x-github-delivery': delivery,
            'x-hub-signature-256': await sign(SECRET, body),
          },
          body,
        }),
        lambdaContext('stepline-webhook'),
      );
      // Assess
      expect(response.statusCode).toBeLessThan(500);
      expect([200, 202]).toContain(response.statusCode);
      const started = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
      for (const s of started) expect(s.name).toBe(delivery);
      const explained = lines.filter((l) => ['pipeline skipped', 'delivery ignored', 'ping answered'].includes(l.message));
      for (const l of explained.filter((x) => x.message !== 'ping answered')) expect(String(l.reason)).not.toBe('');
      expect(started.length + explained.length).toBeGreaterThan(0);
      // Every pipeline is accounted for: started, or skipped with its reason.
      if (event === 'push' || (event === 'pull_request' && ['opened', 'reopened', 'synchronize', 'closed'].includes(String(payload.action)))) {
        const ignored = lines.some((l) => l.message === 'delivery ignored');
        if (!ignored) expect(started.length + lines.filter((l) => l.message === 'pipeline skipped').length).toBe(PIPELINES.length);
      }
    },
  );

  it('starts one run per tag: from its push, never from its create event', async () => {
    const { logger } = recordingLogger('webhook');
    const handler = makeWebhookHandler({
      ...webhookDependencies({ GITHUB_WEBHOOK_SECRET: 'stepline/github', PIPELINES: JSON.stringify(PIPELINES), STATE_MACHINE_PREFIX: 'stepline-' }),
      logger,
    });
    const deliver = async (event: string, payload: unknown, id: string) => {
      const body = JSON.stringify(payload);
      return handler(
        httpEvent({ headers: { 'x-github-event': event, 'x-github-delivery': id, 'x-hub-signature-256': await sign(SECRET, body) }, body }),
        lambdaContext('stepline-webhook'),
      );
    };
    const tagPush = cases.find((c) => c.event === 'push' && String(c.payload.ref).startsWith('refs/tags/') && c.payload.deleted === false);
    const tagCreate = cases.find((c) => c.event === 'create' && c.payload.ref_type === 'tag');
    await deliver('create', tagCreate?.payload, 'create-1');
    await deliver('push', tagPush?.payload, 'push-1');
    const starts = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(starts.map((s) => [s.stateMachineArn, s.name])).toStrictEqual([['arn:aws:states:us-east-1:123456789012:stateMachine:stepline-release', 'push-1']]);
  });
});
