/**
 * `kill -9` of a runner in the middle of a build: nothing it started keeps running, the next stepline
 * command says the execution's runner ended, and retry-stage-execution resumes it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processState } from '../helpers/processes';
import { createProject, type Project, runCli } from '../helpers/project';

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

describe('kill -9 of stepline run in the middle of a build', () => {
  it('leaves no process of the build, marks the execution, and retry resumes it', async () => {
    pids = mkdtempSync(join(tmpdir(), 'stepline-kill-'));
    const go = join(pids, 'go');
    project = createProject({
      'stepline.yml': `
name: killed
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/x, outputArtifacts: [Src] }]
  - name: Build
    actions: [{ name: Long, kind: build, inputArtifacts: [Src] }]
`,
      // Until the test says go, the build starts a background shell (which ignores SIGTERM), a
      // grandchild, and waits; afterwards it passes at once.
      'buildspec.yml': `version: 0.2
phases:
  build:
    commands:
      - if [ -f "${go}" ]; then echo resumed; exit 0; fi; sh -c 'trap "" TERM; sleep 120 & echo $! > "${pids}/grandchild.pid"; echo $$ > "${pids}/child.pid"; wait' & echo $$ > "${pids}/shell.pid"; sleep 120
`,
    });
    const files = ['shell.pid', 'child.pid', 'grandchild.pid'].map((f) => join(pids as string, f));
    let killed = false;
    const run = await runCli(['run'], {
      cwd: project.dir,
      onStdout: (out, child) => {
        if (killed || !out.includes('Build · Long (build) started')) return;
        killed = true;
        void until(() => files.every((f) => existsSync(f) && readFileSync(f, 'utf8').endsWith('\n')), 'the build to start its processes').then(() =>
          child.kill('SIGKILL'),
        );
      },
    });
    expect(run.signal).toBe('SIGKILL');

    const started = files.map((f) => Number(readFileSync(f, 'utf8')));
    // The watchdog gives SIGTERM a grace of 2 s before SIGKILL.
    await until(() => started.every((pid) => !processState(pid).running), 'the build processes to end', 10_000).catch(() => undefined);
    for (const pid of started) {
      const state = processState(pid);
      expect(state.running, `pid ${pid} outlived the killed runner (${state.why})`).toBe(false);
    }

    const [execution] = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{
      executionId: string;
      status: string;
    }>;
    expect(execution?.status).toBe('Failed');
    const detail = await runCli(['get-execution', execution?.executionId ?? '', '--json'], { cwd: project.dir });
    expect(detail.stdout).toContain('runner ended unexpectedly');

    writeFileSync(go, '');
    const retried = await runCli(['retry-stage-execution', execution?.executionId ?? ''], { cwd: project.dir });
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    const [after] = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ status: string }>;
    expect(after?.status).toBe('Succeeded');
  }, 90_000);
});
