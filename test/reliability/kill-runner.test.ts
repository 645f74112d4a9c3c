/**
 * `kill -9` of a runner in the middle of a build: nothing it started keeps running, the next stepline
 * command says the execution's runner ended, and retry-stage-execution resumes it.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pidNamespaceSupport } from '@stepline/local';
import { afterEach, describe, expect, it } from 'vitest';
import { processesWithEnvironment, processState } from '../helpers/processes';
import { CLI, createProject, gitEnv, type Project, pipelineYaml, runCli } from '../helpers/project';

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

/**
 * Only a PID namespace holds a process that left the build's process group; without one (not Linux,
 * no util-linux, namespaces forbidden) the build still must not leave the rest behind.
 */
const contained = pidNamespaceSupport();
const escapes = contained.kind === 'pid-namespace';
if (!escapes) {
  const why = `builds run without a PID namespace here (${contained.reason}): the setsid part of the kill -9 tests is skipped`;
  if (process.env.CI === 'true') throw new Error(`${why}: not allowed under CI=true`);
  console.warn(why);
}

/** Every process of a build carries this variable (the buildspec sets it), wherever it went. */
const MARK = 'STEPLINE_KILL_TEST';

/**
 * A pipeline whose build, until `go` exists, leaves a background shell that ignores SIGTERM with a
 * child, and a shell that left the build's process group (`setsid`) with a child of its own.
 */
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
env:
  variables:
    ${MARK}: "${dir}"
phases:
  build:
    commands:
      - if [ -f "${go}" ]; then echo resumed; exit 0; fi; sh -c 'trap "" TERM; sleep 120 & touch "${dir}/child.started"; wait' & ${escapes ? `setsid sh -c 'sleep 60 & touch "${dir}/setsid.started"; wait' &` : ''} touch "${dir}/shell.started"; sleep 120
`,
  });
}

const startedFiles = (dir: string) => ['shell.started', 'child.started', ...(escapes ? ['setsid.started'] : [])].map((f) => join(dir, f));
/** The build shell and its sleep, the background shell and its sleep, and the one after setsid and its sleep. */
const STARTED = escapes ? 6 : 4;
const allStarted = (files: string[]) => files.every((f) => existsSync(f));

/** The build's processes as the test sees them: its shell, the two background shells, their sleeps. */
function buildProcesses(dir: string): number[] {
  return processesWithEnvironment(MARK, dir);
}

/** Every process of the build has ended (within the watchdog's 2 s grace and some), the one that called setsid too. */
async function expectAllEnded(dir: string): Promise<void> {
  await until(() => buildProcesses(dir).length === 0, 'the build processes to end', 10_000).catch(() => undefined);
  const left = buildProcesses(dir).map((pid) => `${pid} (${processState(pid).why})`);
  expect(left, 'processes of the build outlived the killed runner').toStrictEqual([]);
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
  expect(retried.code, `${retried.stdout}\n${retried.stderr}`).toBe(0);
  const [after] = JSON.parse((await runCli(['list-executions', '--json'], { cwd })).stdout) as Array<{ status: string }>;
  expect(after?.status).toBe('Succeeded');
}

describe('kill -9 of a runner in the middle of a build', () => {
  it('stepline run: leaves no process of the build, marks the execution, and retry resumes it', async () => {
    pids = mkdtempSync(join(tmpdir(), 'stepline-kill-'));
    project = stubbornProject(pids);
    const files = startedFiles(pids);
    const dir = pids;
    let killed = false;
    let before: number[] = [];
    const run = await runCli(['run'], {
      cwd: project.dir,
      onStdout: (out, child) => {
        if (killed || !out.includes('Build · Long (build) started')) return;
        killed = true;
        void until(() => allStarted(files), 'the build to start its processes').then(() => {
          before = buildProcesses(dir);
          child.kill('SIGKILL');
        });
      },
    });
    expect(run.signal).toBe('SIGKILL');
    expect(before.length).toBeGreaterThanOrEqual(STARTED);
    await expectAllEnded(pids);
    await expectMarkedAndRetried(project.dir, pids);
  }, 90_000);

  it('stepline serve: the same for the build, and a restarted serve resumes the execution that was QUEUED behind it', async () => {
    pids = mkdtempSync(join(tmpdir(), 'stepline-kill-'));
    project = stubbornProject(pids, 'executionMode: QUEUED\ntriggers: [{ push: [{ branches: { includes: [main] } }] }]');
    const cwd = project.dir;
    const files = startedFiles(pids);
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
      await until(() => allStarted(files), 'the build to start its processes');
      expect(buildProcesses(pids).length).toBeGreaterThanOrEqual(STARTED);
      // QUEUED: the second push waits at the pipeline's entry while the first one builds.
      expect(await deliver('kill-serve-2')).toBe(202);
      const waiting = async () => (await runCli(['get-execution', 'kill-serve-2', '--json'], { cwd })).stdout.includes('"Waiting"');
      const until2 = Date.now() + 20_000;
      while (!(await waiting()) && Date.now() < until2) await new Promise((r) => setTimeout(r, 200));
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      await expectAllEnded(pids);

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
    expect(retried.code, `${retried.stdout}\n${retried.stderr}`).toBe(0);
    expect((await executions()).map((e) => e.status)).toStrictEqual(['Succeeded', 'Succeeded']);
  }, 120_000);

  it('stepline run killed while it seals a build output: no manifest, whole or half, until the retry writes a whole one', async () => {
    // A build that writes 10,000 files as its output: sealing them takes long enough to be caught at it.
    project = createProject({
      'stepline.yml': pipelineYaml('sealing', '  - name: Build\n    actions: [{ name: Many, kind: build, inputArtifacts: [Src], outputArtifacts: [Out] }]\n'),
      'buildspec.yml': `version: 0.2
phases:
  build:
    commands:
      - mkdir -p out && cd out && seq 1 10000 | xargs touch
artifacts:
  base-directory: out
  files: ['**/*']
`,
    });
    const cwd = project.dir;
    const artifacts = join(cwd, '.stepline', 'artifacts', 'sealing');
    const partialOf = () => {
      for (const execution of existsSync(artifacts) ? readdirSync(artifacts) : []) {
        const partial = join(artifacts, execution, '.Out.manifest.json.partial');
        if (existsSync(partial)) return { execution, partial };
      }
      return undefined;
    };
    let caught: { execution: string; partial: string } | undefined;
    let watching = false;
    const run = await runCli(['run'], {
      cwd,
      onStdout: (_out, child) => {
        if (watching) return;
        watching = true;
        const timer = setInterval(() => {
          caught = partialOf();
          if (caught) {
            clearInterval(timer);
            child.kill('SIGKILL');
          }
        }, 2);
        child.once('exit', () => clearInterval(timer));
      },
    });
    expect(run.signal, 'the runner finished before its output was caught being sealed').toBe('SIGKILL');
    const execution = caught?.execution ?? '';
    // The artifact is not sealed: its manifest does not exist, so no consumer can take it for whole.
    expect(existsSync(join(artifacts, execution, 'Out', 'manifest.json'))).toBe(false);
    const retried = await runCli(['retry-stage-execution', execution], { cwd });
    expect(retried.code, `${retried.stdout}\n${retried.stderr}`).toBe(0);
    const manifest = JSON.parse(readFileSync(join(artifacts, execution, 'Out', 'manifest.json'), 'utf8')) as { files: unknown[] };
    expect(manifest.files).toHaveLength(10_000);
    expect(existsSync(join(artifacts, execution, '.Out.manifest.json.partial'))).toBe(false);
  }, 120_000);
});
