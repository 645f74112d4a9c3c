import { describe, expect, it } from 'vitest';
import { leaveGroupDirPerTest, leftBehind, processState, withoutPidNamespace } from '../../../../test/helpers/processes';
import { until } from '../../../../test/helpers/until';
import { describeContainment, pidNamespaceSupport } from '../process/pid-namespace';
import { AppProcess, runCommand } from './processes';

const skip = withoutPidNamespace('app versions');

const leaveGroupDir = leaveGroupDirPerTest(['app', 'hook']);

/** The process `sh leave-group.sh NAME` started, once it has. */
const leftBy = (name: string) => until(`the ${name}'s setsid process`, () => leftBehind(leaveGroupDir(), name), 10_000);

describe.skipIf(skip)(`an app version's processes, setsid or not${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('end when the version is stopped, and its log says how it was contained', async () => {
    const lines: string[] = [];
    const app = await AppProcess.start({
      name: 'green exec-2',
      command: 'sh leave-group.sh app && echo serving && exec sleep 300',
      cwd: leaveGroupDir(),
      env: { SETSID_PIDS: leaveGroupDir() },
      log: (line) => lines.push(line),
    });
    const pid = await leftBy('app');
    expect(processState(pid).running).toBe(true);

    const stopping = Date.now();
    await app.stop(1_000);

    // It ends on SIGTERM: no grace spent, nor a wait for the machine's PID 1 to collect an orphan.
    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(processState(pid).running).toBe(false);
    expect(app.exited).toBe(true);
    expect(lines[0]).toBe(`[green exec-2] ${describeContainment(pidNamespaceSupport(), 'command')}`);
  });

  it('end when the version exits by itself', async () => {
    const app = await AppProcess.start({
      name: 'green exec-3',
      command: 'sh leave-group.sh app && sleep 0.5 && exit 3',
      cwd: leaveGroupDir(),
      env: { SETSID_PIDS: leaveGroupDir() },
    });

    expect(await app.waitForExit()).toBe(3);
    expect(processState(await leftBy('app')).running).toBe(false);
  });

  it("end when a hook's command runs out of time", async () => {
    const result = await runCommand('sh leave-group.sh hook; echo waiting; sleep 300', {
      name: 'hook',
      cwd: leaveGroupDir(),
      env: { SETSID_PIDS: leaveGroupDir() },
      timeoutMs: 1_000,
    });

    expect(result).toMatchObject({ timedOut: true, cancelled: false, output: 'waiting' });
    expect(processState(await leftBy('hook')).running).toBe(false);
  });
});
