import type { WriteStream } from 'node:fs';
import { releaseProcessGroup, spawnOwnedGroup } from './process-groups';

export interface RunLoggedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where stdout and stderr go (left open). */
  log: WriteStream;
  /** Ends the whole process group when aborted. */
  signal: AbortSignal;
  /** Also streams the output (a run's console). */
  output?: (text: string) => void;
  /** Ends the process group after this long. */
  timeoutSeconds?: number;
}

export interface RunLoggedResult {
  exitCode: number;
  timedOut: boolean;
}

const killGroup = (pid: number | undefined) => {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // already gone
  }
};

/**
 * Runs a command as a process group this runner owns, its output into `log`: a stop (the signal) or
 * the timeout ends the whole group, not only the shell.
 */
export function runLogged(file: string, args: readonly string[], options: RunLoggedOptions): Promise<RunLoggedResult> {
  return new Promise<RunLoggedResult>((resolve, reject) => {
    const child = spawnOwnedGroup(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    const kill = () => killGroup(child.pid);
    options.signal.addEventListener('abort', kill, { once: true });
    const timer =
      options.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            kill();
          }, options.timeoutSeconds * 1000);
    const group = child.pid;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (d: Buffer) => {
        options.log.write(d);
        options.output?.(d.toString());
      });
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      options.signal.removeEventListener('abort', kill);
      if (group !== undefined) releaseProcessGroup(group);
      resolve({ exitCode: code ?? (signal ? 128 : 1), timedOut });
    });
  });
}
