/**
 * Every process group this runner starts (a build's commands, an invoke's command, an app version)
 * ends with the runner, whatever ends the runner: a normal exit, Ctrl-C, or `kill -9`.
 *
 * A normal exit is caught by Node's `exit` event. A `kill -9` runs no code of ours, so a watchdog
 * does it: a small `sh` in a process group of its own, started before the first group we own, holding the
 * read end of a pipe whose write end only this process has. We tell it each group we start and end;
 * when the pipe closes (the kernel closes it when this process ends, however it ends), it sends
 * SIGTERM to the groups still listed, then SIGKILL after a grace. Linux's parent-death signal would
 * reach only the direct child (the shell), not what the shell started in the background.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** Between SIGTERM and SIGKILL when the runner is gone. */
const GRACE_SECONDS = 2;

// `+PGID` lists a group, `-PGID` forgets it; EOF means the runner ended. POSIX sh only (dash's kill
// takes no `--`).
const WATCHDOG_SCRIPT = `
trap '' INT TERM HUP
groups=' '
while IFS= read -r line; do
  case "$line" in
    +*) groups="$groups\${line#+} " ;;
    -*) groups=$(printf '%s' "$groups" | sed "s/ \${line#-} / /") ;;
  esac
done
[ "$groups" = ' ' ] && exit 0
for g in $groups; do kill -TERM "-$g" 2>/dev/null; done
sleep ${GRACE_SECONDS}
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
`;

const owned = new Set<number>();
let watchdog: ChildProcess | undefined;
let exitHookInstalled = false;

/**
 * Spawns `file` as the leader of a new process group that this runner owns: it is killed when this
 * process ends, until releaseProcessGroup. The watchdog is started before the spawn: a kill -9 that
 * lands while a group is being started must still find a watchdog to tell (the gap is then one
 * synchronous write, not a process start).
 */
export function spawnOwnedGroup(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  installExitHook();
  if (!watchdogAlive()) startWatchdog();
  const child = spawn(file, args, { ...options, detached: true });
  if (child.pid !== undefined) {
    owned.add(child.pid);
    tell(`+${child.pid}`);
  }
  return child;
}

/** The group has ended, or is handed on: this process no longer answers for it. */
export function releaseProcessGroup(pgid: number): void {
  if (!owned.delete(pgid)) return;
  tell(`-${pgid}`);
}

function watchdogAlive(): boolean {
  return watchdog?.stdin !== null && watchdog?.stdin !== undefined && !watchdog.stdin.destroyed;
}

function tell(line: string): void {
  if (watchdogAlive()) watchdog?.stdin?.write(`${line}\n`);
  // None (it died): a new one learns every group still owned.
  else if (owned.size > 0) startWatchdog();
}

function startWatchdog(): void {
  try {
    const dog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    // Neither the watchdog nor its pipe may keep this process alive.
    dog.unref();
    const stdin = dog.stdin as (NodeJS.WritableStream & { unref?: () => void; on: NodeJS.WritableStream['on'] }) | null;
    stdin?.unref?.();
    // A watchdog that died (killed by hand) must not take the runner with it through EPIPE.
    stdin?.on('error', () => undefined);
    dog.on('error', () => undefined);
    dog.on('exit', () => {
      if (watchdog === dog) watchdog = undefined;
    });
    watchdog = dog;
    for (const pgid of owned) dog.stdin?.write(`+${pgid}\n`);
  } catch {
    // No /bin/sh: the exit hook still covers a normal exit.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of owned) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Sends `signal` to every process of the group; one that has gone already is no error. */
export function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // Already gone.
  }
}

/** How long to wait for the kernel to end a group after SIGKILL. */
const KILL_WAIT_MS = 5000;

/**
 * SIGTERM to the whole process group, SIGKILL to whatever is left after `graceMs`; resolves once no
 * process of it runs (bounded), so that "stopped" means gone.
 */
export async function terminateGroup(group: number, graceMs: number): Promise<void> {
  signalGroup(group, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(group) && Date.now() < deadline) await delay(25);
  if (!groupAlive(group)) return;
  signalGroup(group, 'SIGKILL');
  // SIGKILL cannot be caught, but the kernel takes a moment to end a process (one in the D state longer).
  const killDeadline = Date.now() + KILL_WAIT_MS;
  while (groupAlive(group) && Date.now() < killDeadline) await delay(10);
}

/**
 * Whether any process of the group still runs. Zombies do not count: an orphan is reaped by PID 1,
 * and in a container whose PID 1 never reaps, waiting for them would wait for ever.
 */
export function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // No /proc to tell zombies apart: the signal answered, so the group is there.
  }
  return entries.some((entry) => /^\d+$/.test(entry) && runningInGroup(entry, group));
}

function runningInGroup(pid: string, group: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(pgrp) === group && state !== 'Z';
  } catch {
    return false;
  }
}
