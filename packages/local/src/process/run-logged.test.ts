import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { leaveGroupDirPerTest, leftBehind, processesWithEnvironment, processState, withoutPidNamespace } from '../../../../test/helpers/processes';
import { until } from '../../../../test/helpers/until';
import { describeContainment, pidNamespaceSupport } from './pid-namespace';
import { type RunLoggedOptions, runLogged } from './run-logged';

const skip = withoutPidNamespace('commands');

const leaveGroupDir = leaveGroupDirPerTest(['command']);

/** Runs `script` in `dir` with the log in `dir/log`; resolves to the result, the log and how long it took. */
async function run(script: string, options: Partial<RunLoggedOptions> & { env?: Record<string, string> } = {}) {
  const dir = leaveGroupDir();
  const log = createWriteStream(join(dir, 'log'));
  const started = Date.now();
  const result = await runLogged('/bin/sh', ['-c', script], {
    cwd: dir,
    log,
    signal: new AbortController().signal,
    ...options,
    env: { ...process.env, SETSID_PIDS: dir, ...options.env },
  });
  await new Promise((r) => log.end(r));
  return { result, ms: Date.now() - started, log: readFileSync(join(dir, 'log'), 'utf8') };
}

/** The process `sh leave-group.sh command` started, and whether it still runs. */
const leftRunning = () => {
  const pid = leftBehind(leaveGroupDir(), 'command');
  if (pid === undefined) throw new Error('the command did not start its setsid process');
  return processState(pid).running;
};

describe.skipIf(skip)(`runLogged: a process that left the command's process group (setsid)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('ends when the command ends, even while it holds the output open; the log says how the command was contained', async () => {
    const { result, ms, log } = await run('sh leave-group.sh command; echo done', { env: { SETSID_KEEPS_OUTPUT: '1' } });

    expect(result).toStrictEqual({ exitCode: 0, timedOut: false, tail: ['done'] });
    // Not the 300 s its sleep would hold the pipe for.
    expect(ms).toBeLessThan(10_000);
    expect(leftRunning()).toBe(false);
    expect(log).toBe(`${describeContainment(pidNamespaceSupport(), 'command')}\ndone\n`);
  });

  it('ends with the rest of the command when it is stopped, a shell that ignores SIGTERM included', async () => {
    const controller = new AbortController();
    const pending = run(`sh leave-group.sh command; trap '' TERM; touch ignores-term; while :; do sleep 1; done`, { signal: controller.signal });
    await until('the command to ignore SIGTERM', () => (existsSync(join(leaveGroupDir(), 'ignores-term')) ? true : undefined), 10_000);
    controller.abort();

    const { result, ms } = await pending;
    expect(result.timedOut).toBe(false);
    // SIGTERM, 3 s of grace, then SIGKILL.
    expect(ms).toBeGreaterThanOrEqual(3_000);
    expect(ms).toBeLessThan(15_000);
    expect(leftRunning()).toBe(false);
  });

  it('ends with the rest of the command when it runs out of time, and says it timed out', async () => {
    const { result } = await run('sh leave-group.sh command; echo waiting; sleep 300', { timeoutSeconds: 1 });

    expect(result).toMatchObject({ timedOut: true, tail: ['waiting'] });
    expect(result.exitCode).not.toBe(0);
    expect(leftRunning()).toBe(false);
  });
});

describe('runLogged, with a PID namespace or in process groups only', () => {
  it('ends what the command left running in the background when it ends', async () => {
    const { result } = await run('nohup sleep 300 > /dev/null 2>&1 & echo left', { env: { LEFT_BY_TEST: leaveGroupDir() } });

    expect(result).toStrictEqual({ exitCode: 0, timedOut: false, tail: ['left'] });
    expect(processesWithEnvironment('LEFT_BY_TEST', leaveGroupDir())).toStrictEqual([]);
  });
});
