import { sign } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import bitbucketPullRequest from '../../../../test/fixtures/webhooks/bitbucket-pullrequest-created.json';
import bitbucketPush from '../../../../test/fixtures/webhooks/bitbucket-push.json';
import gitlabMergeRequest from '../../../../test/fixtures/webhooks/gitlab-merge-request.json';
import gitlabPush from '../../../../test/fixtures/webhooks/gitlab-push.json';
import gitlabTagPush from '../../../../test/fixtures/webhooks/gitlab-tag-push.json';
import { parsePipeline } from '../model/parse';
import type { Pipeline } from '../model/schema';
import { bitbucketWebhook, decideWebhook, gitLabWebhook, readWebhookHeaders, WebhookPayloadError } from './index';

const pipeline = (name: string, provider: string, repository: string, triggers: unknown[] = [], branch = 'main'): Pipeline =>
  parsePipeline({
    name,
    triggers,
    stages: [
      { name: 'Source', actions: [{ name: 'App', kind: 'source', provider, repository, branch, outputArtifacts: ['src'] }] },
      { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['src'] }] },
    ],
  });

const starts = (decision: ReturnType<typeof decideWebhook>) => (decision.kind === 'start' ? decision.starts : []);

describe('GitLab webhooks', () => {
  const diaspora = pipeline('diaspora', 'GitLab', 'mike/diaspora', [], 'master');

  it('accepts exactly the configured secret token', async () => {
    expect(await gitLabWebhook.verify('t0ken', '{}', 't0ken')).toBe(true);
    expect(await gitLabWebhook.verify('t0ken', '{}', 't0ke')).toBe(false);
    expect(await gitLabWebhook.verify('t0ken', '{}', 't0ken ')).toBe(false);
    expect(await gitLabWebhook.verify('t0ken', '{}', undefined)).toBe(false);
    expect(await gitLabWebhook.verify('', '{}', '')).toBe(false);
  });

  it('names a delivery by its Idempotency-Key, else its event UUID', () => {
    const headers: Record<string, string> = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': 'uuid-1', 'x-gitlab-token': 't' };
    expect(readWebhookHeaders(gitLabWebhook, (n) => headers[n])).toStrictEqual({ event: 'Push Hook', deliveryId: 'uuid-1', signature: 't' });
    headers['idempotency-key'] = 'key-1';
    expect(readWebhookHeaders(gitLabWebhook, (n) => headers[n]).deliveryId).toBe('key-1');
  });

  it("starts a push of the documentation's example with its checkout commit, and skips pipelines on other hosts", () => {
    // Prepare
    const onGitHub = pipeline('github-namesake', 'GitHub', 'mike/diaspora', [], 'master');
    // Act
    const decision = decideWebhook(gitLabWebhook, { event: 'Push Hook', deliveryId: 'key-1', payload: gitlabPush, pipelines: [diaspora, onGitHub] });
    // Assess
    expect(decision).toStrictEqual({
      kind: 'start',
      starts: [
        {
          pipeline: 'diaspora',
          executionName: 'key-1',
          input: {
            pipeline: 'diaspora',
            trigger: { type: 'Webhook', deliveryId: 'key-1', event: 'Push Hook', actor: 'jsmith' },
            source: {
              repository: 'mike/diaspora',
              commitId: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
              branchName: 'master',
              commitMessage: 'fixed readme',
              authorName: 'GitLab dev user',
              authorDate: '2012-01-03T23:36:29+02:00',
            },
            variables: {},
          },
        },
      ],
      skipped: [{ pipeline: 'github-namesake', reason: 'no triggers, and source action App reads from GitHub, not GitLab' }],
    });
  });

  it('applies file path filters only when the push lists every commit', () => {
    const docsOnly = pipeline('docs', 'GitLab', 'mike/diaspora', [{ push: [{ branches: { includes: ['master'] }, filePaths: { includes: ['docs/**'] } }] }]);
    // The example lists 2 of its 4 commits: the files are unknown, so the filter is not applied.
    expect(starts(decideWebhook(gitLabWebhook, { event: 'Push Hook', deliveryId: 'd', payload: gitlabPush, pipelines: [docsOnly] }))).toHaveLength(1);
    const complete = { ...gitlabPush, total_commits_count: 2 };
    expect(decideWebhook(gitLabWebhook, { event: 'Push Hook', deliveryId: 'd', payload: complete, pipelines: [docsOnly] })).toMatchObject({
      kind: 'start',
      starts: [],
      skipped: [{ pipeline: 'docs', reason: 'trigger 1 (App): no changed file matches its file paths' }],
    });
  });

  it('starts a tag push with the tag, and ignores a deleted branch', () => {
    const release = pipeline('release', 'GitLab', 'jsmith/example', [{ push: [{ tags: { includes: ['v*'] } }] }]);
    const [start] = starts(decideWebhook(gitLabWebhook, { event: 'Tag Push Hook', deliveryId: 'd', payload: gitlabTagPush, pipelines: [release] }));
    expect(start?.input.source).toStrictEqual({ repository: 'jsmith/example', commitId: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7', tag: 'v1.0.0' });
    const deleted = { ...gitlabPush, after: '0'.repeat(40), checkout_sha: null };
    expect(decideWebhook(gitLabWebhook, { event: 'Push Hook', deliveryId: 'd', payload: deleted, pipelines: [diaspora] })).toStrictEqual({
      kind: 'ignored',
      reason: 'branch master was deleted',
    });
  });

  it('maps merge request actions to OPEN, UPDATED and CLOSED, and builds the last commit', () => {
    const reviews = pipeline('reviews', 'GitLab', 'gitlabhq/gitlab-test', [
      { pullRequest: [{ events: ['OPEN', 'UPDATED', 'CLOSED'], branches: { includes: ['master'] } }] },
    ]);
    const withAction = (action: string, extra: Record<string, unknown> = {}) => ({
      ...gitlabMergeRequest,
      object_attributes: { ...gitlabMergeRequest.object_attributes, action, ...extra },
    });
    const decide = (payload: unknown) => decideWebhook(gitLabWebhook, { event: 'Merge Request Hook', deliveryId: 'd', payload, pipelines: [reviews] });
    expect(starts(decide(gitlabMergeRequest))[0]?.input.source).toStrictEqual({
      repository: 'gitlabhq/gitlab-test',
      commitId: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      branchName: 'ms-viewport',
      pullRequest: 1,
      commitMessage: 'fixed readme',
      authorName: 'GitLab dev user',
      authorDate: '2012-01-03T23:36:29+02:00',
    });
    expect(starts(decide(withAction('update', { oldrev: 'a'.repeat(40) })))).toHaveLength(1);
    expect(starts(decide(withAction('merge')))).toHaveLength(1);
    expect(decide(withAction('update'))).toStrictEqual({
      kind: 'ignored',
      reason: 'merge request action update without new commits is not one of open, reopen, update, close, merge',
    });
    expect(decide(withAction('approved')).kind).toBe('ignored');
  });

  it('refuses a missing delivery id and a payload that is not what its event says', () => {
    expect(() => decideWebhook(gitLabWebhook, { event: 'Push Hook', deliveryId: undefined, payload: gitlabPush, pipelines: [] })).toThrow(
      'Idempotency-Key or X-Gitlab-Event-UUID is missing',
    );
    expect(() => decideWebhook(gitLabWebhook, { event: 'Push Hook', deliveryId: 'd', payload: { ref: 'refs/heads/x' }, pipelines: [] })).toThrow(
      new WebhookPayloadError('not a Push Hook payload: after: Invalid input: expected string, received undefined'),
    );
    expect(() => decideWebhook(gitLabWebhook, { event: undefined, deliveryId: 'd', payload: {}, pipelines: [] })).toThrow('X-Gitlab-Event is missing');
    expect(decideWebhook(gitLabWebhook, { event: 'Issue Hook', deliveryId: 'd', payload: {}, pipelines: [] })).toStrictEqual({
      kind: 'ignored',
      reason: 'Issue Hook events start nothing',
    });
  });
});

describe('Bitbucket Cloud webhooks', () => {
  const webhooks = pipeline('webhooks', 'Bitbucket', 'emmap1/webhooks');

  it('accepts the body signed with HMAC-SHA256 under the secret, and nothing else', async () => {
    const body = JSON.stringify(bitbucketPush);
    const signature = await sign('s3cret', body);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(await bitbucketWebhook.verify('s3cret', body, signature)).toBe(true);
    expect(await bitbucketWebhook.verify('other', body, signature)).toBe(false);
    expect(await bitbucketWebhook.verify('s3cret', `${body}\n`, signature)).toBe(false);
    expect(await bitbucketWebhook.verify('s3cret', body, undefined)).toBe(false);
  });

  it("starts a repo:push of the documentation's example with the new head of the branch", () => {
    const decision = decideWebhook(bitbucketWebhook, { event: 'repo:push', deliveryId: '{c8a2f0a4}', payload: bitbucketPush, pipelines: [webhooks] });
    expect(starts(decision)).toStrictEqual([
      {
        pipeline: 'webhooks',
        executionName: '-c8a2f0a4-',
        input: {
          pipeline: 'webhooks',
          trigger: { type: 'Webhook', deliveryId: '{c8a2f0a4}', event: 'repo:push', actor: 'Emma' },
          source: {
            repository: 'emmap1/webhooks',
            commitId: '709d658dc5b6d6afcd46049c2f332ee3f515a67d',
            branchName: 'main',
            commitMessage: 'Add a webhook handler\n',
            authorName: 'Emma',
            authorDate: '2015-06-09T03:34:49+00:00',
          },
          variables: {},
        },
      },
    ]);
  });

  it('ignores a push that only deletes, and events that start nothing', () => {
    const deleted = { ...bitbucketPush, push: { changes: [{ new: null, old: bitbucketPush.push.changes[0]?.old, closed: true }] } };
    expect(decideWebhook(bitbucketWebhook, { event: 'repo:push', deliveryId: 'd', payload: deleted, pipelines: [webhooks] })).toStrictEqual({
      kind: 'ignored',
      reason: 'the push only deletes branches or tags',
    });
    expect(decideWebhook(bitbucketWebhook, { event: 'pullrequest:comment_created', deliveryId: 'd', payload: {}, pipelines: [webhooks] }).kind).toBe('ignored');
  });

  it('starts pull request events on the base branch filter, building the source commit', () => {
    const reviews = pipeline('reviews', 'Bitbucket', 'emmap1/webhooks', [{ pullRequest: [{ events: ['OPEN'], branches: { includes: ['main'] } }] }]);
    const opened = decideWebhook(bitbucketWebhook, { event: 'pullrequest:created', deliveryId: 'd', payload: bitbucketPullRequest, pipelines: [reviews] });
    expect(starts(opened)[0]?.input.source).toStrictEqual({ repository: 'emmap1/webhooks', commitId: 'd3022fc0ca3d', branchName: 'branch2', pullRequest: 1 });
    const merged = decideWebhook(bitbucketWebhook, { event: 'pullrequest:fulfilled', deliveryId: 'd', payload: bitbucketPullRequest, pipelines: [reviews] });
    expect(merged).toMatchObject({ kind: 'start', starts: [], skipped: [{ reason: 'trigger 1 (App): pull request event CLOSED is not one of OPEN' }] });
  });
});
