import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeContainment, PidNamespace, pidNamespaceSupport } from './pid-namespace';

const support = pidNamespaceSupport();
const skip = support.kind === 'pid-namespace' ? undefined : `no PID namespace for builds here: ${support.kind === 'process-group' ? support.reason : ''}`;
if (skip && process.env.CI === 'true') throw new Error(`${skip}: not allowed under CI=true`);

/** Whether a pid runs (a zombie has ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

describe.skipIf(skip)(`a build's PID namespace${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs a command inside it, and ending it ends a process that left its process group with setsid', async () => {
    // Prepare
    const { namespace, containment } = await PidNamespace.start();
    expect(containment.kind).toBe('pid-namespace');
    if (!namespace) throw new Error('no namespace');
    // The command prints its pid inside the namespace, then the pid (as seen here) of a sleep it left behind in a new session.
    const command = namespace.wrap('/bin/sh', ['-c', 'echo "$$"; setsid sh -c \'read -r pid rest < /proc/self/stat; echo "$pid"; exec sleep 60\' &']);

    // Act: the shell ends at once; the sleep keeps running, and holds the pipe.
    // Named by path: a build's commands are spawned with its own PATH, which need not hold util-linux.
    expect(command.file).toMatch(/^\/.*nsenter$/);
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d;
        if (out.split('\n').length > 2) resolve();
      });
    });
    child.stdout?.destroy();
    await exited;
    const [inside, escaped] = out.trim().split('\n').map(Number);

    // Assess: inside the namespace the shell is not a pid of this machine's (the init is 1); the sleep outlived its shell until the end.
    expect(inside).toBeLessThan(10);
    expect(escaped).toBeGreaterThan(0);
    expect(running(escaped as number)).toBe(true);
    await namespace.end();
    expect(running(escaped as number)).toBe(false);
  });
});

describe('what the build log says', () => {
  it('names the containment, and why there is no namespace when there is none', () => {
    const tools = { unshare: '/usr/bin/unshare', nsenter: '/usr/bin/nsenter', setpriv: '/usr/bin/setpriv' };
    expect(describeContainment({ kind: 'pid-namespace', userNamespace: true, tools })).toBe(
      'Build processes run in a PID namespace of their own (in a user namespace): all of them end with the build, setsid or not',
    );
    expect(describeContainment({ kind: 'process-group', reason: 'STEPLINE_BUILD_ISOLATION=process-group' })).toBe(
      'Build processes run in process groups (no PID namespace: STEPLINE_BUILD_ISOLATION=process-group): a process that calls setsid may outlive the build',
    );
  });
});
