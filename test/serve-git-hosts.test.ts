/**
 * `stepline serve` over real HTTP with GitLab and Bitbucket Cloud deliveries: the documentation's
 * example payloads (repository and commit replaced by the served project's), authenticated as each
 * host does it (GitLab's X-Gitlab-Token, Bitbucket's X-Hub-Signature), bad or missing credentials
 * refused with 401 and no run, a redelivery starting nothing more.
 */
import { createHmac } from 'node:crypto';
import type { RunningServer } from '@stepline/local';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import bitbucketPullRequest from './fixtures/webhooks/bitbucket-pullrequest-created.json';
import bitbucketPush from './fixtures/webhooks/bitbucket-push.json';
import gitlabMergeRequest from './fixtures/webhooks/gitlab-merge-request.json';
import gitlabPush from './fixtures/webhooks/gitlab-push.json';
import type { Project } from './helpers/project';
import { serveProject } from './helpers/serve';

const SECRET = 'git-hosts-secret';
// One pipeline, one source on each host (same local repository), each with its own trigger.
const DEFINITION = `
name: hosts
executionMode: PARALLEL
triggers:
  - { sourceAction: Lab, push: [{ branches: { includes: [main] } }], pullRequest: [{ events: [OPEN], branches: { includes: [main] } }] }
  - { sourceAction: Bucket, push: [{ branches: { includes: [main] } }], pullRequest: [{ events: [OPEN], branches: { includes: [main] } }] }
stages:
  - name: Source
    actions:
      - { name: Lab, kind: source, provider: GitLab, repository: acme/lab-svc, outputArtifacts: [LabSrc], namespace: Lab }
      - { name: Bucket, kind: source, provider: Bitbucket, repository: acme/bucket-svc, outputArtifacts: [BucketSrc], namespace: Bucket }
  - name: Check
    actions: [{ name: Test, kind: invoke, command: "test -f app.txt", inputArtifacts: [LabSrc] }]
`;

let project: Project;
let server: RunningServer;

beforeEach(async () => {
  ({ project, server } = await serveProject(DEFINITION, { secret: SECRET, files: { 'app.txt': 'v1\n' } }));
});

afterEach(async () => {
  await server.close();
  project.remove();
});

const gitlabPushBody = (commit: string) =>
  JSON.stringify({
    ...gitlabPush,
    ref: 'refs/heads/main',
    after: commit,
    checkout_sha: commit,
    project: { ...gitlabPush.project, path_with_namespace: 'acme/lab-svc' },
    commits: gitlabPush.commits.map((c, i) => (i === gitlabPush.commits.length - 1 ? { ...c, id: commit } : c)),
  });

const bitbucketPushBody = (commit: string) => {
  const [change] = bitbucketPush.push.changes;
  if (!change) throw new Error('the example has a change');
  return JSON.stringify({
    ...bitbucketPush,
    repository: { ...bitbucketPush.repository, full_name: 'acme/bucket-svc' },
    push: { changes: [{ ...change, new: { ...change.new, target: { ...change.new.target, hash: commit } } }] },
  });
};

const hmac = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function post(route: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${server.url}/webhooks/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: (await res.json()) as { started?: Array<{ executionId: string; duplicate?: boolean }>; error?: string } };
}

const gitlab = (body: string, headers: Record<string, string> = {}) =>
  post('gitlab', body, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': crypto.randomUUID(), 'x-gitlab-token': SECRET, ...headers });
const bitbucket = (body: string, headers: Record<string, string> = {}) =>
  post('bitbucket', body, {
    'x-event-key': 'repo:push',
    'x-request-uuid': `{${crypto.randomUUID()}}`,
    'x-attempt-number': '1',
    'x-hub-signature': hmac(body),
    ...headers,
  });

const executions = async () =>
  (await (await fetch(`${server.url}/api/executions`)).json()) as Array<{ executionId: string; status: string; commitId?: string }>;

describe('stepline serve with GitLab and Bitbucket', () => {
  it('runs a GitLab push carrying the secret token, once however often it is redelivered', async () => {
    const body = gitlabPushBody(project.commit);
    const first = await gitlab(body, { 'idempotency-key': 'gl-key-1' });
    // A retry keeps the Idempotency-Key; the event UUID is new.
    const again = await gitlab(body, { 'idempotency-key': 'gl-key-1' });
    expect(first.status).toBe(202);
    expect(again).toMatchObject({ status: 200, body: { started: [{ executionId: first.body.started?.[0]?.executionId, duplicate: true }] } });
    await server.idle();
    expect(await executions()).toMatchObject([{ executionId: 'gl-key-1', status: 'Succeeded', commitId: project.commit }]);
  });

  it('refuses a GitLab delivery without the right token with 401 and starts nothing', async () => {
    const body = gitlabPushBody(project.commit);
    expect((await gitlab(body, { 'x-gitlab-token': 'not-the-secret' })).status).toBe(401);
    const unsigned = await post('gitlab', body, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': 'u' });
    expect(unsigned).toStrictEqual({ status: 401, body: { error: "X-Gitlab-Token does not match this server's webhook secret" } });
    // A GitHub-style signature is no GitLab token.
    expect((await gitlab(body, { 'x-gitlab-token': hmac(body) })).status).toBe(401);
    expect(await executions()).toStrictEqual([]);
  });

  it('runs a signed Bitbucket push once, even when Bitbucket retries it', async () => {
    const body = bitbucketPushBody(project.commit);
    const first = await bitbucket(body, { 'x-request-uuid': '{bb-request-1}' });
    const retry = await bitbucket(body, { 'x-request-uuid': '{bb-request-1}', 'x-attempt-number': '2' });
    expect(first.status).toBe(202);
    expect(retry.body.started).toStrictEqual([{ pipeline: 'hosts', executionId: '-bb-request-1-', duplicate: true }]);
    await server.idle();
    expect(await executions()).toMatchObject([{ executionId: '-bb-request-1-', status: 'Succeeded', commitId: project.commit }]);
  });

  it('refuses an unsigned or wrongly signed Bitbucket delivery with 401 and starts nothing', async () => {
    const body = bitbucketPushBody(project.commit);
    expect((await bitbucket(body, { 'x-hub-signature': hmac(body, 'not-the-secret') })).status).toBe(401);
    expect((await bitbucket(body, { 'x-hub-signature': hmac(`${body} `) })).status).toBe(401);
    const unsigned = await post('bitbucket', body, { 'x-event-key': 'repo:push', 'x-request-uuid': '{u}' });
    expect(unsigned).toStrictEqual({ status: 401, body: { error: "X-Hub-Signature does not match this server's webhook secret" } });
    expect(await executions()).toStrictEqual([]);
  });

  it('runs merge and pull requests opened against main, building their head commit', async () => {
    const mr = JSON.stringify({
      ...gitlabMergeRequest,
      project: { ...gitlabMergeRequest.project, path_with_namespace: 'acme/lab-svc' },
      object_attributes: {
        ...gitlabMergeRequest.object_attributes,
        target_branch: 'main',
        last_commit: { ...gitlabMergeRequest.object_attributes.last_commit, id: project.commit },
      },
    });
    const pr = JSON.stringify({
      ...bitbucketPullRequest,
      repository: { ...bitbucketPullRequest.repository, full_name: 'acme/bucket-svc' },
      pullrequest: { ...bitbucketPullRequest.pullrequest, source: { ...bitbucketPullRequest.pullrequest.source, commit: { hash: project.commit } } },
    });
    expect((await gitlab(mr, { 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-event-uuid': 'mr-1' })).status).toBe(202);
    expect((await bitbucket(pr, { 'x-event-key': 'pullrequest:created', 'x-request-uuid': 'pr-1' })).status).toBe(202);
    // Another host's event for the same repository name starts nothing: each trigger watches its own host.
    const crossed = await post('github', JSON.stringify({ ref: 'refs/heads/main', after: project.commit, repository: { full_name: 'acme/lab-svc' } }), {
      'x-github-event': 'push',
      'x-github-delivery': 'gh-1',
      'x-hub-signature-256': hmac(JSON.stringify({ ref: 'refs/heads/main', after: project.commit, repository: { full_name: 'acme/lab-svc' } })),
    });
    expect(crossed.body.started).toStrictEqual([]);
    await server.idle();
    expect((await executions()).map((e) => [e.executionId, e.status, e.commitId]).sort()).toStrictEqual([
      ['mr-1', 'Succeeded', project.commit],
      ['pr-1', 'Succeeded', project.commit],
    ]);
  });
});
