/**
 * Whether a process still runs, as the kernel says in /proc/<pid>/stat. A zombie (state Z) has ended:
 * only its exit status waits to be collected by its parent, which for an orphan is PID 1 and, in a
 * container whose PID 1 is not an init, may be collected late or never. `process.kill(pid, 0)`
 * succeeds on a zombie, so it cannot tell the two apart.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { pidNamespaceSupport } from '../../packages/local/src/process/pid-namespace';

export interface ProcessState {
  running: boolean;
  /** What the kernel said, for an assertion message: `gone`, or `state Z, parent 1`. */
  why: string;
}

export function processState(pid: number): ProcessState {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return { running: false, why: 'gone' };
  }
  // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { running: state !== 'Z', why: `state ${state}, parent ${ppid}` };
}

/**
 * The pids (as this process sees them) of every running process whose environment holds `NAME=value`:
 * a build's processes inherit its variables, wherever they went (another process group after
 * `setsid`, a PID namespace whose own numbers `$$` and `$!` would give).
 */
export function processesWithEnvironment(name: string, value: string): number[] {
  const entry = Buffer.from(`\0${name}=${value}\0`);
  const found: number[] = [];
  for (const dir of readdirSync('/proc')) {
    if (!/^\d+$/.test(dir)) continue;
    let environ: Buffer;
    try {
      environ = Buffer.concat([Buffer.from('\0'), readFileSync(`/proc/${dir}/environ`)]);
    } catch {
      continue;
    }
    const pid = Number(dir);
    if (environ.includes(entry) && processState(pid).running) found.push(pid);
  }
  return found;
}

/**
 * Why a test of what only a PID namespace holds (a process that called `setsid`) is skipped here, or
 * undefined where commands get one. Under CI=true (root on Linux, where they work) having none fails.
 */
export function withoutPidNamespace(what: string): string | undefined {
  const support = pidNamespaceSupport();
  if (support.kind === 'pid-namespace') return undefined;
  const why = `${what} run without a PID namespace here (${support.reason}): the setsid tests are skipped`;
  if (process.env.CI === 'true') throw new Error(`${why}: not allowed under CI=true`);
  console.warn(why);
  return why;
}

/**
 * A script: `sh leave-group.sh NAME` starts a sleep in a session of its own (out of the caller's process
 * group) and writes its pid as this machine sees it to `$SETSID_PIDS/NAME.pid` (/proc is the machine's;
 * `$$` would be a PID namespace's number). Its output goes elsewhere unless `$SETSID_KEEPS_OUTPUT` is set,
 * in which case it holds the caller's output open. It returns once the pid is written: a command that
 * ended sooner could take the sleep with it before the test learns its pid.
 */
export const LEAVE_GROUP_SH = `leave() { setsid sh -c 'read -r pid rest < /proc/self/stat; echo "$pid" > "$SETSID_PIDS/$0.tmp"; mv "$SETSID_PIDS/$0.tmp" "$SETSID_PIDS/$0.pid"; exec sleep 300' "$1" & }
if [ -n "$SETSID_KEEPS_OUTPUT" ]; then leave "$1"; else leave "$1" > /dev/null 2>&1; fi
while [ ! -f "$SETSID_PIDS/$1.pid" ]; do sleep 0.05; done
`;

/** The pid `sh leave-group.sh NAME` wrote into `dir`, once it has. */
export function leftBehind(dir: string, name: string): number | undefined {
  const file = join(dir, `${name}.pid`);
  return existsSync(file) ? Number(readFileSync(file, 'utf8')) : undefined;
}

/** Kills what a failed test left behind, so that it does not sleep on for five minutes. */
function killLeftBehind(dir: string, names: readonly string[]): void {
  for (const name of names) {
    const pid = leftBehind(dir, name);
    if (pid && processState(pid).running) process.kill(pid, 'SIGKILL');
  }
}

/**
 * For each test of the file: a fresh temporary directory holding leave-group.sh (`SETSID_PIDS` for it),
 * whose left-behind processes named `names` are killed and which is removed after the test.
 */
export function leaveGroupDirPerTest(names: readonly string[]): () => string {
  let dir: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepline-setsid-'));
    writeFileSync(join(dir, 'leave-group.sh'), LEAVE_GROUP_SH);
  });
  afterEach(() => {
    if (!dir) return;
    killLeftBehind(dir, names);
    rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  return () => {
    if (!dir) throw new Error('no directory outside a test');
    return dir;
  };
}
