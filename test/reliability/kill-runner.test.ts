/**
 * `kill -9` of a runner in the middle of a build: nothing it started keeps running, the next stepline
 * command says the execution's runner ended, and retry-stage-execution resumes it.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@stepline/local';
import { afterEach, describe, expect, it } from 'vitest';
import { processState } from '../helpers/processes';
import { CLI, createProject, gitEnv, type Project, runCli } from '../helpers/project';

let project: Project | undefined;
let pids: string | undefined;
afterEach(() => {
  project?.remove();
  if (pids) rmSync(pids, { recursive: true, force: true });
  project = pids = undefined;
});

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A pipeline whose build, until `go` exists, leaves a background shell that ignores SIGTERM and a grandchild. */
function stubbornProject(dir: string, trigger = ''): Project {
  const go = join(dir, 'go');
  return createProject({
    'stepline.yml': `
name: killed
${trigger}
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/x, outputArtifacts: [Src] }]
  - name: Build
    actions: [{ name: Long, kind: build, inputArtifacts: [Src] }]
`,
    'buildspec.yml': `version: 0.2
phases:
  build:
    commands:
      - if [ -f "${go}" ]; then echo resumed; exit 0; fi; sh -c 'trap "" TERM; sleep 120 & echo $! > "${dir}/grandchild.pid"; echo $$ > "${dir}/child.pid"; wait' & echo $$ > "${dir}/shell.pid"; sleep 120
`,
  });
}

const pidFiles = (dir: string) => ['shell.pid', 'child.pid', 'grandchild.pid'].map((f) => join(dir, f));
const allWritten = (files: string[]) => files.every((f) => existsSync(f) && readFileSync(f, 'utf8').endsWith('\n'));

/** Every pid in the files has ended (within the watchdog's 2 s grace and some). */
async function expectAllEnded(files: string[]): Promise<void> {
  const started = files.map((f) => Number(readFileSync(f, 'utf8')));
  await until(() => started.every((pid) => !processState(pid).running), 'the build processes to end', 10_000).catch(() => undefined);
  for (const pid of started) {
    const state = processState(pid);
    expect(state.running, `pid ${pid} outlived the killed runner (${state.why})`).toBe(false);
  }
}

/** The one execution is Failed, says its runner ended, and retry-stage-execution (after `go`) succeeds. */
async function expectMarkedAndRetried(cwd: string, dir: string): Promise<void> {
  const [execution] = JSON.parse((await runCli(['list-executions', '--json'], { cwd })).stdout) as Array<{ executionId: string; status: string }>;
  expect(execution?.status).toBe('Failed');
  const detail = await runCli(['get-execution', execution?.executionId ?? '', '--json'], { cwd });
  expect(detail.stdout).toContain('runner ended unexpectedly');
  writeFileSync(join(dir, 'go'), '');
  const retried = await runCli(['retry-stage-execution', execution?.executionId ?? ''], { cwd });
  expect(retried.stderr).toBe('');
  expect(retried.code).toBe(0);
  const [after] = JSON.parse((await runCli(['list-executions', '--json'], { cwd })).stdout) as Array<{ status: string }>;
  expect(after?.status).toBe('Succeeded');
}

describe('kill -9 of a runner in the middle of a build', () => {
  it('stepline run: leaves no process of the build, marks the execution, and retry resumes it', async () => {
    pids = mkdtempSync(join(tmpdir(), 'stepline-kill-'));
    project = stubbornProject(pids);
    const files = pidFiles(pids);
    let killed = false;
    const run = await runCli(['run'], {
      cwd: project.dir,
      onStdout: (out, child) => {
        if (killed || !out.includes('Build · Long (build) started')) return;
        killed = true;
        void until(() => allWritten(files), 'the build to start its processes').then(() => child.kill('SIGKILL'));
      },
    });
    expect(run.signal).toBe('SIGKILL');
    await expectAllEnded(files);
    await expectMarkedAndRetried(project.dir, pids);
  }, 90_000);

  it('stepline serve: the same for the build, and a restarted serve resumes the execution that was QUEUED behind it', async () => {
    pids = mkdtempSync(join(tmpdir(), 'stepline-kill-'));
    project = stubbornProject(pids, 'executionMode: QUEUED\ntriggers: [{ push: [{ branches: { includes: [main] } }] }]');
    const cwd = project.dir;
    const files = pidFiles(pids);
    const port = await freePort();
    const secret = 'kill-serve-secret';
    const serve = () =>
      spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
        cwd,
        env: { ...process.env, ...gitEnv, STEPLINE_WEBHOOK_SECRET: secret },
        stdio: 'ignore',
      });
    const body = JSON.stringify({ ref: 'refs/heads/main', after: project.commit, repository: { full_name: 'acme/x' }, commits: [] });
    const deliver = async (delivery: string): Promise<number> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const status = await fetch(`http://127.0.0.1:${port}/webhooks/github`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'push',
            'x-github-delivery': delivery,
            'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
          },
          body,
        }).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 0 || Date.now() > deadline) return status;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const executions = async () => JSON.parse((await runCli(['list-executions', '--json'], { cwd })).stdout) as Array<{ executionId: string; status: string }>;

    const first = serve();
    let second: ReturnType<typeof serve> | undefined;
    try {
      expect(await deliver('kill-serve-1')).toBe(202);
      await until(() => allWritten(files), 'the build to start its processes');
      // QUEUED: the second push waits at the pipeline's entry while the first one builds.
      expect(await deliver('kill-serve-2')).toBe(202);
      const waiting = async () => (await runCli(['get-execution', 'kill-serve-2', '--json'], { cwd })).stdout.includes('"Waiting"');
      const until2 = Date.now() + 20_000;
      while (!(await waiting()) && Date.now() < until2) await new Promise((r) => setTimeout(r, 200));
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      await expectAllEnded(files);

      writeFileSync(join(pids, 'go'), '');
      second = serve();
      const deadline = Date.now() + 30_000;
      let listed = await executions();
      while (!listed.some((e) => e.status === 'Succeeded') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        listed = await executions();
      }
      // The queued one ran to its end; the one whose build was killed is marked, for retry.
      expect(listed.map((e) => e.status).sort()).toStrictEqual(['Failed', 'Succeeded']);
      second.kill('SIGINT');
      await new Promise((r) => second?.once('exit', r));
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGKILL');
    }
    const failed = (await executions()).find((e) => e.status === 'Failed');
    const detail = await runCli(['get-execution', failed?.executionId ?? '', '--json'], { cwd });
    expect(detail.stdout).toContain('runner ended unexpectedly');
    const retried = await runCli(['retry-stage-execution', failed?.executionId ?? ''], { cwd });
    expect(retried.code).toBe(0);
    expect((await executions()).map((e) => e.status)).toStrictEqual(['Succeeded', 'Succeeded']);
  }, 120_000);
});
