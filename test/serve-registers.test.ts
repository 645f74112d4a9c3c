/**
 * `serve --pipeline <file>` makes its pipelines known to every verb at once, before they first run:
 * a definition that is not at the default path is found by name from another terminal. And
 * `stepline dashboard` serves the console of this machine's history, without webhooks.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parsePipelineText } from '@stepline/core';
import { type RunningServer, startServer } from '@stepline/local';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, createProject, gitEnv, type Project, runCli } from './helpers/project';

const DEFINITION = `
name: release
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/release, outputArtifacts: [Src] }]
  - name: Ship
    actions: [{ name: Echo, kind: invoke, command: "true" }]
`;

let project: Project | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  project?.remove();
});

describe('stepline serve --pipeline', () => {
  it('registers the pipelines it serves, so other verbs know them by name before their first run', async () => {
    project = createProject({ 'ci/release.yml': DEFINITION });
    const file = join(project.dir, 'ci', 'release.yml');
    server = await startServer({
      project: project.dir,
      repo: project.dir,
      host: '127.0.0.1',
      port: 0,
      webhookSecret: 'registers',
      pipelines: [{ pipeline: parsePipelineText(DEFINITION), file }],
      sink: { line: () => undefined },
    });
    const listed = await runCli(['list-pipelines', '--json'], { cwd: project.dir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ name: 'release', location: file }]);
    const state = await runCli(['get-pipeline-state', 'release', '--json'], { cwd: project.dir });
    expect(state.code, state.stderr).toBe(0);
    expect(JSON.parse(state.stdout)).toMatchObject({ pipeline: 'release', stages: [{ name: 'Source' }, { name: 'Ship' }] });
  });

  it('stepline dashboard: the console of the pipelines this machine knows, on 127.0.0.1, without webhooks', async () => {
    project = createProject({ 'stepline.yml': DEFINITION });
    const child = spawn(process.execPath, [CLI, 'dashboard', '--port', '0'], {
      cwd: project.dir,
      env: { ...process.env, ...gitEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += String(d);
          const found = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (found?.[1]) resolve(found[1]);
        });
        child.once('exit', (code) => reject(new Error(`dashboard exited with ${code}: ${out}`)));
      });
      const page = await fetch(`${url}/pipelines/release`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('<h1>release');
      expect((await fetch(`${url}/webhooks/github`, { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
