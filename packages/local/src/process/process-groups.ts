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
