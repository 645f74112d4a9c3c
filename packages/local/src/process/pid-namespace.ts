/**
 * A PID namespace for one build (or one other command, contained-process.ts), where Linux has them:
 * every process of the build lives in it, and
 * when the namespace's first process (its init) ends, the kernel kills every other one, whatever it
 * did meanwhile. A process group cannot promise that: `setsid` (or `setpgid`) takes a process out of
 * its group, and so out of reach of the watchdog (process-groups.ts); it cannot leave a PID namespace.
 *
 * The namespace is made by util-linux's `unshare --pid --fork --kill-child` around a sleeping init,
 * under `setpriv --pdeathsig KILL` so that the kernel kills it when this runner ends, `kill -9`
 * included; each command enters it with `nsenter --pid`. As root nothing more is needed; otherwise
 * `--user --map-current-user` adds a user namespace in which the same user may make one, where the
 * kernel allows unprivileged user namespaces. Where none of this works (another OS, no util-linux, a
 * kernel or container that forbids it) the build runs as before, in process groups only.
 */
import { type ChildProcess, type SpawnOptions, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { findOnPath } from './find-on-path';
import { releaseProcessGroup, spawnOwnedGroup } from './process-groups';

/**
 * Set to `process-group` to run builds and every other command without a PID namespace (a build that
 * needs `sudo`, say). Named for builds, which had namespaces first.
 */
export const ISOLATION_VARIABLE = 'STEPLINE_BUILD_ISOLATION';

/** util-linux's tools, by absolute path: a build may set a PATH without them, and commands are spawned with the build's. */
interface Tools {
  unshare: string;
  nsenter: string;
  setpriv: string;
}

/** How a build's processes are kept together; what the build log says once. */
export type Containment = { kind: 'pid-namespace'; userNamespace: boolean; tools: Tools } | { kind: 'process-group'; reason: string };

// The init prints its pid as this runner sees it (/proc is the runner's), then sleeps as PID 1 of the
// namespace. A PID 1 gets no signal from outside that it has no handler for, but SIGKILL.
const INIT_SCRIPT = 'read -r pid rest < /proc/self/stat; echo "$pid"; exec sleep 2147483647';
const NAMESPACE_FLAGS = ['--pid', '--fork', '--kill-child'];
const USER_FLAGS = ['--user', '--map-current-user'];
/** Starting the init takes a few milliseconds; more than this means something is wrong. */
const START_TIMEOUT_MS = 10_000;

let support: Containment | undefined;

/** Whether builds can run in a PID namespace here, found out once per process. */
export function pidNamespaceSupport(): Containment {
  support ??= probe();
  return support;
}

function probe(): Containment {
  if (process.env[ISOLATION_VARIABLE] === 'process-group') return { kind: 'process-group', reason: `${ISOLATION_VARIABLE}=process-group` };
  if (process.platform !== 'linux') return { kind: 'process-group', reason: `PID namespaces are Linux's; this is ${process.platform}` };
  const found: Partial<Tools> = {};
  for (const tool of ['unshare', 'nsenter', 'setpriv'] as const) {
    found[tool] = findOnPath([tool], process.env.PATH);
    if (!found[tool]) return { kind: 'process-group', reason: `util-linux's ${tool} is not on the PATH` };
  }
  const tools = found as Tools;
  const tries = process.getuid?.() === 0 ? [false, true] : [true];
  for (const userNamespace of tries) {
    const flags = [...(userNamespace ? USER_FLAGS : []), ...NAMESPACE_FLAGS];
    if (spawnSync(tools.unshare, [...flags, 'true'], { stdio: 'ignore', timeout: START_TIMEOUT_MS }).status === 0) {
      return { kind: 'pid-namespace', userNamespace, tools };
    }
  }
  return { kind: 'process-group', reason: 'this kernel or container does not let this user make a PID namespace (unshare --pid failed)' };
}

/** One build's (or command's) PID namespace: commands run in it with {@link wrap}; {@link end} kills all that is in it. */
export class PidNamespace {
  private ended = false;

  private constructor(
    private readonly holder: ChildProcess,
    private readonly initPid: number,
    private readonly userNamespace: boolean,
    private readonly nsenter: string,
    /** What /proc/<pid>/ns/pid reads for a process in it. */
    private readonly id: string,
  ) {}

  /** Starts a namespace where builds can have one (see {@link pidNamespaceSupport}); says which containment the build got. */
  static async start(): Promise<{ namespace: PidNamespace | undefined; containment: Containment }> {
    const found = pidNamespaceSupport();
    if (found.kind !== 'pid-namespace') return { namespace: undefined, containment: found };
    const flags = [...(found.userNamespace ? USER_FLAGS : []), ...NAMESPACE_FLAGS];
    const holder = spawnOwnedGroup(found.tools.setpriv, ['--pdeathsig', 'KILL', found.tools.unshare, ...flags, '/bin/sh', '-c', INIT_SCRIPT], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const initPid = await new Promise<number | undefined>((resolve) => {
      let text = '';
      const timer = setTimeout(() => resolve(undefined), START_TIMEOUT_MS);
      holder.stdout?.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(Number.parseInt(text, 10));
        }
      });
      const failed = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
      holder.once('error', failed);
      holder.once('exit', failed);
    });
    if (initPid === undefined || !Number.isInteger(initPid)) {
      killHolder(holder);
      return { namespace: undefined, containment: { kind: 'process-group', reason: 'the PID namespace did not start' } };
    }
    // Neither the namespace nor its pipe may keep this process alive.
    holder.stdout?.destroy();
    holder.unref();
    const id = namespaceOf(initPid);
    if (id === undefined) {
      // Without its id its processes cannot be told apart from others': no graceful stop, no daemon kept.
      killHolder(holder);
      return { namespace: undefined, containment: { kind: 'process-group', reason: `the PID namespace's id could not be read (/proc/${initPid}/ns/pid)` } };
    }
    return { namespace: new PidNamespace(holder, initPid, found.userNamespace, found.tools.nsenter, id), containment: found };
  }

  /** The command that runs `file` with `args` inside the namespace. */
  wrap(file: string, args: readonly string[]): { file: string; args: string[] } {
    const user = this.userNamespace ? ['--user', '--preserve-credentials'] : [];
    return { file: this.nsenter, args: ['--target', String(this.initPid), ...user, '--pid', '--', file, ...args] };
  }

  /**
   * Sends `signal` to every process in the namespace but its init, wherever it went (`setsid`): a
   * graceful stop before {@link end}. `nsenter`, outside, is spared: it waits for its command and
   * collects it, where an orphan's exit status would wait for the machine's PID 1, and the
   * namespace's end with it.
   */
  signalAll(signal: NodeJS.Signals): void {
    for (const pid of this.members()) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone meanwhile.
      }
    }
  }

  /** Whether any process but the init still runs in the namespace. */
  busy(): boolean {
    return this.members().length > 0;
  }

  private members(): number[] {
    // Once ended, its id may be a new namespace's: the kernel reuses the numbers of freed namespaces.
    if (this.ended) return [];
    const found: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (pid !== this.initPid && namespaceOf(pid) === this.id && running(pid)) found.push(pid);
    }
    return found;
  }

  /**
   * Ends every process in the namespace: the kernel kills them all once its init ends, and the init's
   * exit waits for theirs, so once it is gone (or a zombie) nothing of the build runs.
   */
  async end(): Promise<void> {
    this.ended = true;
    killHolder(this.holder);
    const deadline = Date.now() + END_WAIT_MS;
    while (running(this.initPid) && Date.now() < deadline) await delay(10);
  }
}

/**
 * Spawns `file` as a process group this runner owns (process-groups.ts), inside `namespace` when there
 * is one: what a build's commands and every other command stepline runs are started with.
 */
export function spawnOwned(namespace: PidNamespace | undefined, file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const command = namespace?.wrap(file, args) ?? { file, args };
  return spawnOwnedGroup(command.file, command.args, options);
}

/** The log's line about it, for a `build`'s processes or a `command`'s. */
export function describeContainment(containment: Containment, of: 'build' | 'command' = 'build'): string {
  const whose = `${of[0]?.toUpperCase()}${of.slice(1)}`;
  if (containment.kind === 'pid-namespace') {
    return `${whose} processes run in a PID namespace of their own${containment.userNamespace ? ' (in a user namespace)' : ''}: all of them end with the ${of}, setsid or not`;
  }
  return `${whose} processes run in process groups (no PID namespace: ${containment.reason}): a process that calls setsid may outlive the ${of}`;
}

/** How long to wait for the kernel to end a namespace's processes. */
const END_WAIT_MS = 5_000;

/** Whether a process runs (a zombie has ended: only its status waits to be collected). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The PID namespace a process is in, as /proc names it; undefined when it is gone or not ours to read. */
function namespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

function killHolder(holder: ChildProcess): void {
  // unshare ignores SIGTERM while it waits for the init, and the init takes only SIGKILL from outside.
  holder.kill('SIGKILL');
  if (holder.pid !== undefined) releaseProcessGroup(holder.pid);
}
