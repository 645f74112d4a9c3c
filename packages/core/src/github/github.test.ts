import { sign } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../model/parse';
import { WebhookPayloadError } from '../webhooks/payload';
import { decideGitHubWebhook } from './index';
import { verifyGitHubSignature } from './signature';

const web = parsePipeline({
  name: 'web',
  stages: [
    { name: 'Source', actions: [{ name: 'App', kind: 'source', repository: 'acme/web', branch: 'main', outputArtifacts: ['src'] }] },
    { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['src'] }] },
  ],
});
const tagged = parsePipeline({ ...structuredClone(web), name: 'release', triggers: [{ push: [{ tags: { includes: ['v*'] } }] }] });
const needsVariable = parsePipeline({ ...structuredClone(web), name: 'needs', variables: [{ name: 'REGION' }] });

const pushPayload = (over: Record<string, unknown> = {}) => ({
  ref: 'refs/heads/main',
  before: '0'.repeat(40),
  after: 'a'.repeat(40),
  deleted: false,
  repository: { full_name: 'acme/web' },
  head_commit: { id: 'b'.repeat(40), message: 'Fix it\n\nbody', timestamp: '2026-01-02T03:04:05Z', author: { name: 'Ada' } },
  commits: [{ id: 'b'.repeat(40), added: ['a.ts'], modified: ['b.ts'], removed: [] }],
  sender: { login: 'ada' },
  ...over,
});

describe('verifyGitHubSignature', () => {
  it('accepts the body signed with the secret, and nothing else', async () => {
    const body = JSON.stringify({ zen: 'hi' });
    const signature = await sign('s3cret', body);
    expect(await verifyGitHubSignature('s3cret', body, signature)).toBe(true);
    expect(await verifyGitHubSignature('other', body, signature)).toBe(false);
    expect(await verifyGitHubSignature('s3cret', `${body} `, signature)).toBe(false);
    expect(await verifyGitHubSignature('s3cret', body, undefined)).toBe(false);
    expect(await verifyGitHubSignature('s3cret', body, signature.toUpperCase())).toBe(false);
    expect(await verifyGitHubSignature('s3cret', body, 'sha1=abc')).toBe(false);
    expect(await verifyGitHubSignature('', body, signature)).toBe(false);
    expect(await verifyGitHubSignature('s3cret', '', signature)).toBe(false);
  });
});

describe('decideGitHubWebhook', () => {
  it('answers ping, ignores create and unknown events', () => {
    expect(decideGitHubWebhook({ event: 'ping', deliveryId: undefined, payload: {}, pipelines: [web] })).toStrictEqual({ kind: 'pong' });
    expect(decideGitHubWebhook({ event: 'create', deliveryId: 'd', payload: {}, pipelines: [web] }).kind).toBe('ignored');
    expect(decideGitHubWebhook({ event: 'issues', deliveryId: 'd', payload: {}, pipelines: [web] })).toStrictEqual({
      kind: 'ignored',
      reason: 'issues events start nothing',
    });
  });

  it('refuses missing headers and malformed payloads with WebhookPayloadError', () => {
    expect(() => decideGitHubWebhook({ event: undefined, deliveryId: 'd', payload: {}, pipelines: [] })).toThrow(WebhookPayloadError);
    expect(() => decideGitHubWebhook({ event: 'push', deliveryId: undefined, payload: pushPayload(), pipelines: [] })).toThrow('X-GitHub-Delivery');
    expect(() => decideGitHubWebhook({ event: 'push', deliveryId: 'd', payload: { ref: 1 }, pipelines: [] })).toThrow(/not a push payload: ref/);
    expect(() => decideGitHubWebhook({ event: 'pull_request', deliveryId: 'd', payload: null, pipelines: [] })).toThrow(WebhookPayloadError);
  });

  it('starts matching pipelines, named from the delivery, with the commit in the input', () => {
    // Act
    const decision = decideGitHubWebhook({
      event: 'push',
      deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      payload: pushPayload(),
      pipelines: [web, tagged, needsVariable],
    });
    // Assess
    expect(decision).toStrictEqual({
      kind: 'start',
      starts: [
        {
          pipeline: 'web',
          executionName: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
          input: {
            pipeline: 'web',
            trigger: { type: 'Webhook', deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958', event: 'push', actor: 'ada' },
            source: {
              repository: 'acme/web',
              commitId: 'b'.repeat(40),
              branchName: 'main',
              commitMessage: 'Fix it\n\nbody',
              authorName: 'Ada',
              authorDate: '2026-01-02T03:04:05Z',
            },
            variables: {},
          },
        },
      ],
      skipped: [
        { pipeline: 'release', reason: 'trigger 1 (App): branch main is not a tag push' },
        { pipeline: 'needs', reason: 'variable REGION has no default, and a webhook gives no values' },
      ],
    });
  });

  it('ignores deletions and refs that are neither branches nor tags', () => {
    expect(decideGitHubWebhook({ event: 'push', deliveryId: 'd', payload: pushPayload({ deleted: true }), pipelines: [web] })).toStrictEqual({
      kind: 'ignored',
      reason: 'branch main was deleted',
    });
    expect(decideGitHubWebhook({ event: 'push', deliveryId: 'd', payload: pushPayload({ ref: 'refs/notes/x' }), pipelines: [web] }).kind).toBe('ignored');
  });

  it('starts a tag push once, from the push event, with the tag and its commit', () => {
    const decision = decideGitHubWebhook({
      event: 'push',
      deliveryId: 'd1',
      payload: pushPayload({ ref: 'refs/tags/v1.2.0', commits: [] }),
      pipelines: [web, tagged],
    });
    expect(decision.kind === 'start' && decision.starts.map((s) => [s.pipeline, s.input.source.tag, s.input.source.commitId])).toStrictEqual([
      ['release', 'v1.2.0', 'b'.repeat(40)],
    ]);
  });

  it('builds the head of a pull request and maps its action', () => {
    const pipeline = parsePipeline({ ...structuredClone(web), name: 'pr', triggers: [{ pullRequest: [{ events: ['OPEN', 'UPDATED'] }] }] });
    const payload = (action: string) => ({
      action,
      number: 7,
      repository: { full_name: 'acme/web' },
      sender: { login: 'bob' },
      pull_request: { head: { sha: 'c'.repeat(40), ref: 'feat' }, base: { ref: 'main' }, user: { login: 'bob' } },
    });
    const opened = decideGitHubWebhook({ event: 'pull_request', deliveryId: 'd2', payload: payload('synchronize'), pipelines: [pipeline] });
    expect(opened.kind === 'start' && opened.starts[0]?.input.source).toStrictEqual({
      repository: 'acme/web',
      commitId: 'c'.repeat(40),
      branchName: 'feat',
      pullRequest: 7,
    });
    expect(decideGitHubWebhook({ event: 'pull_request', deliveryId: 'd3', payload: payload('labeled'), pipelines: [pipeline] }).kind).toBe('ignored');
  });
});
