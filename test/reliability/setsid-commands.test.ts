/**
 * The commands stepline runs besides builds (an invoke action's command, a canary's app version) keep
 * what they start with them: a process that left their process group (`setsid`) ends when the command
 * ends, and when `stepline run` is killed with `kill -9`. Real `stepline run`, real processes.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@stepline/local';
import { afterEach, describe, expect, it } from 'vitest';
import { APP_SOURCE } from '../helpers/canary-app';
import { LEAVE_GROUP_SH, leaveGroupDirPerTest, leftBehind, processState, withoutPidNamespace } from '../helpers/processes';
import { createProject, type Project, pipelineYaml, runCli } from '../helpers/project';
import { until } from '../helpers/until';

/** Only a PID namespace holds a process that left its group; without one these tests cannot pass. */
const skip = withoutPidNamespace('commands');

/** Where leave-group.sh writes the pids (the project has its own copy of the script). */
const pidsDir = leaveGroupDirPerTest(['invoke', 'app']);
let project: Project | undefined;
afterEach(() => {
  project?.remove();
  project = undefined;
});

/** A project with `stages` after the source stage, leave-group.sh and the canary's app beside. */
function projectWith(stages: string): { project: Project; env: Record<string, string> } {
  project = createProject({ 'stepline.yml': pipelineYaml('leaver', stages), 'leave-group.sh': LEAVE_GROUP_SH });
  copyFileSync(APP_SOURCE, join(project.dir, 'server.mjs'));
  project.commitAll('the app');
  return { project, env: { SETSID_PIDS: pidsDir() } };
}

const invokeStage = (command: string) => `  - name: Check
    actions: [{ name: Leave, kind: invoke, inputArtifacts: [Src], command: "${command}" }]
`;

const canaryStage = async (steps: string, command: string) => `  - name: Deploy
    actions:
      - name: Canary
        kind: deploy
        inputArtifacts: [Src]
        strategy: { steps: ${steps} }
        checkIntervalSeconds: 1
        terminationWaitMinutes: 0
        local: { command: "${command}", port: ${await freePort()}, healthPath: /health }
`;

/** The process that called setsid, once it has written its pid. */
const started = (name: string) => until(`the ${name}'s setsid process to start`, () => leftBehind(pidsDir(), name), 30_000);

/** It has ended (within the watchdog's grace and some). */
async function expectEnded(pid: number, after: string): Promise<void> {
  await until(`${pid} to end`, () => (processState(pid).running ? undefined : true), 10_000).catch(() => undefined);
  expect(processState(pid), `the process that called setsid outlived ${after}`).toMatchObject({ running: false });
}

/** Runs `stepline run` until `name`'s setsid process has started, then sends it `signal`; resolves to that process's pid. */
async function signalRunOnceStarted(dir: string, env: Record<string, string>, name: string, signal: NodeJS.Signals): Promise<number> {
  let pid: number | undefined;
  const run = await runCli(['run'], {
    cwd: dir,
    env,
    timeoutMs: 60_000,
    onStdout: (_out, child) => {
      if (pid !== undefined) return;
      pid = 0;
      void started(name).then((found) => {
        pid = found;
        child.kill(signal);
      });
    },
  });
  // Ctrl-C stops the execution and exits 130; SIGKILL leaves no exit code.
  if (signal === 'SIGINT') expect(run.code, run.stdout).toBe(130);
  else expect(run.signal, run.stdout).toBe(signal);
  expect(pid).toBeGreaterThan(0);
  return pid as number;
}

describe.skipIf(skip)(`a process that calls setsid in a command that is not a build${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('invoke: ends with the command when it ends', async () => {
    const { project, env } = projectWith(invokeStage('sh leave-group.sh invoke'));
    const run = await runCli(['run'], { cwd: project.dir, env });
    expect(run.code, run.stdout).toBe(0);
    await expectEnded(await started('invoke'), 'its invoke command');
  }, 60_000);

  it('invoke: ends with the command when the execution is stopped (Ctrl-C)', async () => {
    const { project, env } = projectWith(invokeStage('sh leave-group.sh invoke && exec sleep 300'));
    const pid = await signalRunOnceStarted(project.dir, env, 'invoke', 'SIGINT');
    await expectEnded(pid, 'its stopped invoke command');
  }, 60_000);

  it('invoke: ends when stepline run is killed with kill -9', async () => {
    const { project, env } = projectWith(invokeStage('sh leave-group.sh invoke && exec sleep 300'));
    const pid = await signalRunOnceStarted(project.dir, env, 'invoke', 'SIGKILL');
    await expectEnded(pid, 'the killed runner');
  }, 60_000);

  it('canary app version: ends with the version when the run stops it', async () => {
    const { project, env } = projectWith(await canaryStage('[{ setWeight: 100 }]', 'sh leave-group.sh app && exec node server.mjs'));
    const run = await runCli(['run'], { cwd: project.dir, env });
    expect(run.code, run.stdout).toBe(0);
    await expectEnded(await started('app'), 'its app version');
  }, 60_000);

  it('canary app version: ends when stepline run is killed with kill -9', async () => {
    const { project, env } = projectWith(await canaryStage('[{ setWeight: 10 }, { pause: { minutes: 10 } }]', 'sh leave-group.sh app && exec node server.mjs'));
    const pid = await signalRunOnceStarted(project.dir, env, 'app', 'SIGKILL');
    await expectEnded(pid, 'the killed runner');
  }, 60_000);
});
