/**
 * `stepline serve` over real HTTP: GitHub webhooks (signatures, redeliveries, trigger filters, bad
 * bodies), the executions they start, and the API. Never a 5xx.
 */
import { createHmac } from 'node:crypto';
import { parsePipelineText } from '@stepline/core';
import { type RunningServer, startServer } from '@stepline/local';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProject, type Project } from './helpers/project';

const SECRET = 'webhook-test-secret';
const DEFINITION = `
name: svc
executionMode: QUEUED
triggers:
  - push: [{ branches: { includes: [main, release/*] }, filePaths: { excludes: ["docs/**"] } }]
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/svc, outputArtifacts: [Src] }]
  - name: Check
    actions: [{ name: Test, kind: invoke, command: "test -f app.txt && sleep 1", inputArtifacts: [Src] }]
`;

let project: Project;
let server: RunningServer;
const lines: string[] = [];

beforeEach(async () => {
  project = createProject({ 'stepline.yml': DEFINITION, 'app.txt': 'v1\n' });
  server = await startServer({
    project: project.dir,
    repo: project.dir,
    host: '127.0.0.1',
    port: 0,
    webhookSecret: SECRET,
    pipelines: [{ pipeline: parsePipelineText(DEFINITION), file: `${project.dir}/stepline.yml` }],
    sink: { line: (l) => lines.push(l) },
  });
});

afterEach(async () => {
  await server.close();
  project.remove();
});

const sign = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function push(commit: string, options: { branch?: string; files?: string[] } = {}) {
  return JSON.stringify({
    ref: `refs/heads/${options.branch ?? 'main'}`,
    before: '0'.repeat(40),
    after: commit,
    deleted: false,
    repository: { full_name: 'acme/svc', name: 'svc', owner: { login: 'acme' } },
    head_commit: { id: commit, message: 'change', timestamp: '2026-11-26T00:00:00Z', author: { name: 'dev', email: 'dev@example.com' } },
    commits: [{ id: commit, added: options.files ?? ['app.txt'], modified: [], removed: [] }],
  });
}

async function deliver(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': crypto.randomUUID(),
      'x-hub-signature-256': sign(body),
      ...headers,
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const executions = async () =>
  (await (await fetch(`${server.url}/api/executions`)).json()) as Array<{ executionId: string; status: string; commitId?: string }>;

describe('stepline serve', () => {
  it('answers ping, and runs a signed push that matches the trigger', async () => {
    const ping = await deliver('{"zen":"hi","hook_id":1}', { 'x-github-event': 'ping' });
    expect(ping).toStrictEqual({ status: 200, body: { ok: true, pipelines: ['svc'] } });

    const started = await deliver(push(project.commit));
    expect(started.status).toBe(202);
    const [first] = started.body.started as Array<{ executionId: string }>;
    await server.idle();
    const detail = (await (await fetch(`${server.url}/api/executions/${first?.executionId}`)).json()) as { status: string; commitId: string; trigger: string };
    expect(detail).toMatchObject({ status: 'Succeeded', commitId: project.commit, trigger: 'Webhook' });
    const dashboard = await (await fetch(`${server.url}/`)).text();
    expect(dashboard).toContain('<a href="/pipelines/svc">svc</a>');
    expect(dashboard).toContain(`<a href="/executions/${first?.executionId}" class="mono">`);
  });

  it('refuses a bad signature with 401 and starts nothing', async () => {
    const body = push(project.commit);
    expect((await deliver(body, { 'x-hub-signature-256': sign(body, 'not-the-secret') })).status).toBe(401);
    expect((await deliver(body, { 'x-hub-signature-256': '' })).status).toBe(401);
    expect(await executions()).toStrictEqual([]);
  });

  it('starts one execution for a delivery delivered twice', async () => {
    const body = push(project.commit);
    const delivery = crypto.randomUUID();
    const first = await deliver(body, { 'x-github-delivery': delivery });
    const again = await deliver(body, { 'x-github-delivery': delivery });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.started).toStrictEqual([
      { pipeline: 'svc', executionId: (first.body.started as Array<{ executionId: string }>)[0]?.executionId, duplicate: true },
    ]);
    await server.idle();
    expect(await executions()).toHaveLength(1);
  });

  it('answers 2xx with the reason, and starts nothing, for a push the trigger excludes', async () => {
    const otherBranch = await deliver(push(project.commit, { branch: 'feature/x' }));
    expect(otherBranch.status).toBe(200);
    expect(otherBranch.body.started).toStrictEqual([]);
    expect(JSON.stringify(otherBranch.body.skipped)).toContain('feature/x');
    const docsOnly = await deliver(push(project.commit, { files: ['docs/readme.md'] }));
    expect(docsOnly.status).toBe(200);
    expect(docsOnly.body.started).toStrictEqual([]);
    expect(await executions()).toStrictEqual([]);
  });

  it('answers malformed JSON with 400 and a body over 25 MB with 413, never 5xx', async () => {
    expect((await deliver('{"ref": ')).status).toBe(400);
    expect((await deliver('{"ref": 42}')).status).toBe(400);
    const big = `{"pad":"${'x'.repeat(25 * 1024 * 1024)}"}`;
    const tooBig = await fetch(`${server.url}/webhooks/github`, {
      method: 'POST',
      headers: { 'x-github-event': 'push', 'x-hub-signature-256': sign(big) },
      body: big,
    }).catch((e: Error) => e);
    // The server answers 413 as soon as it sees the length; it may close before the whole body is sent.
    if (tooBig instanceof Error) expect(tooBig.message).toMatch(/fetch failed|socket|reset/i);
    else expect(tooBig.status).toBe(413);
    expect((await fetch(`${server.url}/webhooks/github`, { method: 'GET' })).status).toBe(405);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/executions/%zz`)).status).toBe(400);
    expect((await fetch(`${server.url}/approvals/%E0%A4%A`)).status).toBe(400);
    expect(await executions()).toStrictEqual([]);
  });

  it('runs QUEUED executions one at a time, in arrival order', async () => {
    project.write('app.txt', 'v2\n');
    const second = project.commitAll('v2');
    await deliver(push(project.commit));
    await deliver(push(second));
    await server.idle();
    const list = (await executions()).reverse();
    expect(list.map((e) => e.status)).toStrictEqual(['Succeeded', 'Succeeded']);
    const details = await Promise.all(
      list.map(
        async (e) =>
          (await (await fetch(`${server.url}/api/executions/${e.executionId}`)).json()) as {
            startedAt: string;
            endedAt: string;
            state: { stages: Array<{ actions: Array<{ lastStatusChange: string }> }> };
          },
      ),
    );
    const firstEnded = details[0]?.endedAt ?? '';
    const secondSourceStarted = details[1]?.state.stages[0]?.actions[0]?.lastStatusChange ?? '';
    expect(secondSourceStarted >= firstEnded).toBe(true);
  });
});
