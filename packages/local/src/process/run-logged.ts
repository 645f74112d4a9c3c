import type { WriteStream } from 'node:fs';
import { ContainedProcess } from './contained-process';
import { OutputTail } from './output-tail';
import { describeContainment } from './pid-namespace';

export interface RunLoggedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where stdout and stderr go (left open), after a line saying how the command's processes are kept together. */
  log: WriteStream;
  /** Ends the command, and all it started, when aborted. */
  signal: AbortSignal;
  /** Also streams the output (a run's console). */
  output?: (text: string) => void;
  /** Ends the command, and all it started, after this long. */
  timeoutSeconds?: number;
  /**
   * What the command leaves running once it exits: `end` it (the default), or `keep` it running until the
   * runner ends, as the CodeDeploy agent lets a script start a daemon (which must then let go of the
   * script's output, or the script is waited for until its timeout, as by the agent).
   */
  background?: 'end' | 'keep';
}

export interface RunLoggedResult {
  exitCode: number;
  timedOut: boolean;
  /** The last lines of its output (at most {@link TAIL_LINES}), for the message when it fails. */
  tail: string[];
}

/** How many of the last lines of output a result keeps. */
export const TAIL_LINES = 3;

/** Between SIGTERM and SIGKILL when a command is stopped or runs out of time. */
const STOP_GRACE_MS = 3_000;

/**
 * Runs a command contained (contained-process.ts), its output into `log`. It resolves once the command
 * has exited and nothing it started runs any more: what it left running in the background is ended
 * with it, and so is everything when it is stopped (the signal) or runs out of time.
 */
export async function runLogged(file: string, args: readonly string[], options: RunLoggedOptions): Promise<RunLoggedResult> {
  const command = await ContainedProcess.start(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  options.log.write(`${describeContainment(command.containment, 'command')}\n`);
  const tail = new OutputTail(undefined, TAIL_LINES);
  return new Promise<RunLoggedResult>((resolve, reject) => {
    const { child } = command;
    let timedOut = false;
    const stop = () => void command.stop(STOP_GRACE_MS);
    options.signal.addEventListener('abort', stop, { once: true });
    if (options.signal.aborted) stop();
    const timer =
      options.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutSeconds * 1000);
    const done = () => {
      if (timer) clearTimeout(timer);
      options.signal.removeEventListener('abort', stop);
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (d: Buffer) => {
        options.log.write(d);
        tail.push(d);
        options.output?.(d.toString());
      });
    }
    const keep = options.background === 'keep';
    // What it left in the background may hold its pipes open: ending it lets them close.
    if (!keep) child.once('exit', () => void command.end());
    child.once('error', (error) => {
      done();
      void command.end().then(() => reject(error));
    });
    child.once('close', (code, signal) => {
      done();
      void (keep ? command.leave() : command.end()).then(() => resolve({ exitCode: code ?? (signal ? 128 : 1), timedOut, tail: tail.lines() }));
    });
  });
}
