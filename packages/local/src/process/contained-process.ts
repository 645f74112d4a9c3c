/**
 * One command that this runner starts and answers for, with all it starts: an invoke action's command,
 * a condition's, a CodeDeploy hook script, a canary's app version or hook. It runs in a PID namespace
 * of its own where there is one (pid-namespace.ts), so that a process that leaves its process group
 * (`setsid`) still ends with it; in a process group the runner owns otherwise (process-groups.ts).
 * Either way it ends when the runner ends, `kill -9` included. A build's commands share one namespace
 * for the whole build instead (build/shell-session.ts): its background processes live from one phase
 * to the next.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { type Containment, PidNamespace, spawnOwned } from './pid-namespace';
import { groupAlive, releaseProcessGroup, terminateGroup } from './process-groups';

/** How long what a finished command left running in its process group gets between SIGTERM and SIGKILL. */
const LEFT_RUNNING_GRACE_MS = 2_000;

export class ContainedProcess {
  private ended: Promise<void> | undefined;
  private released = false;

  private constructor(
    readonly child: ChildProcess,
    readonly containment: Containment,
    private readonly namespace: PidNamespace | undefined,
  ) {}

  /** Starts `file` with `args`, in a namespace of its own when this machine gives one. */
  static async start(file: string, args: readonly string[], options: SpawnOptions): Promise<ContainedProcess> {
    const { namespace, containment } = await PidNamespace.start();
    try {
      return new ContainedProcess(spawnOwned(namespace, file, args, options), containment, namespace);
    } catch (error) {
      await namespace?.end();
      throw error;
    }
  }

  /**
   * Stops the command: SIGTERM to all of it (every process in its namespace, or its process group), SIGKILL
   * to what is left after `graceMs`, then {@link end}.
   */
  async stop(graceMs: number): Promise<void> {
    // Ended already (an app version that exited by itself): nothing of it is left to stop, and its
    // namespace's id or group's number may be someone else's by now.
    if (this.ended) return this.ended;
    if (this.namespace) await terminateNamespace(this.namespace, graceMs);
    // Once released, the group's number may belong to someone else's group.
    else if (this.child.pid !== undefined && !this.released) await terminateGroup(this.child.pid, graceMs);
    // The grace is spent: what is left is killed.
    await this.end(0);
  }

  /**
   * After the command exited, when what it left running is to keep running (a CodeDeploy script's
   * daemon): its namespace (or group) is ended only when nothing runs in it any more, else left to end
   * with the runner (the kernel kills the namespace, the watchdog the group), `kill -9` included.
   */
  async leave(): Promise<void> {
    const group = this.child.pid;
    if (this.namespace?.busy()) {
      // nsenter's group is empty once it is reaped, and its number free for another's: the namespace's
      // holder (a group of its own, killed with the runner) is what keeps the daemon bounded.
      if (group !== undefined) releaseProcessGroup(group);
      this.released = true;
      return;
    }
    // Without a namespace the daemon is in the script's group: the watchdog ends it with the runner.
    if (!this.namespace && group !== undefined && groupAlive(group)) return;
    await this.end(0);
  }

  /**
   * Ends whatever the command left running, once it has exited: SIGTERM, then SIGKILL after `graceMs`, to
   * the rest of its namespace (setsid or not), or of its process group where it has none. Resolves once
   * none of it runs; the same promise however often it is called.
   */
  end(graceMs = LEFT_RUNNING_GRACE_MS): Promise<void> {
    this.ended ??= (async () => {
      const group = this.child.pid;
      if (this.namespace) {
        await terminateNamespace(this.namespace, graceMs);
        await this.namespace.end();
      } else if (group !== undefined) {
        await terminateGroup(group, graceMs);
      }
      if (group !== undefined) releaseProcessGroup(group);
      this.released = true;
    })();
    return this.ended;
  }
}

/** SIGTERM to every process in the namespace; resolves once none is left, or after `graceMs` (its end kills the rest). */
async function terminateNamespace(namespace: PidNamespace, graceMs: number): Promise<void> {
  if (!namespace.busy()) return;
  namespace.signalAll('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (namespace.busy() && Date.now() < deadline) await delay(25);
}
