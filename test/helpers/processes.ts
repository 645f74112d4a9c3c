/**
 * Whether a process still runs, as the kernel says in /proc/<pid>/stat. A zombie (state Z) has ended:
 * only its exit status waits to be collected by its parent, which for an orphan is PID 1 and, in a
 * container whose PID 1 is not an init, may be collected late or never. `process.kill(pid, 0)`
 * succeeds on a zombie, so it cannot tell the two apart.
 */
import { readdirSync, readFileSync } from 'node:fs';

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
