/**
 * Runs a build's commands in a real shell, one after the other, the way CodeBuild's buildspec 0.2 does:
 * a variable set (exported or not) and a `cd` made by one command are seen by the next one, across
 * phases too. Shell functions and options (`set -e`) do not carry over, as in CodeBuild.
 *
 * Each command runs in a fresh shell of its own process group (`detached`), started from the
 * environment and directory the previous command left. The shell runs with `set -a`, so every
 * assignment lands in the environment, and an EXIT trap saves that environment (`env -0`) and the
 * directory for the next command. Stopping kills the whole process group, so nothing a command
 * started survives it; processes left running in the background are stopped when the build ends,
 * as they are when CodeBuild's container goes away, and when the runner itself ends, however it ends
 * (process-groups.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PidNamespace, spawnOwned } from '../process/pid-namespace';
import { groupAlive, releaseProcessGroup, terminateGroup } from '../process/process-groups';

export interface CommandResult {
  /** `null` when the shell ended on a signal, or could not be started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Ended because the build was stopped. */
  stopped: boolean;
  /** Why the command could not be started at all. */
  error?: string;
}

export interface CommandOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface ShellSessionOptions {
  /** Absolute path of the shell. */
  shell: string;
  env: Record<string, string>;
  cwd: string;
  /** A private directory for the command scripts and saved state; it holds secrets in plain text. */
  stateDir: string;
  /** Version 0.2 carries variables and the directory from one command to the next; 0.1 does not. */
  carryState: boolean;
  /** How long a stopped command gets between SIGTERM and SIGKILL. @default 3000 */
  killGraceMs?: number;
  /** Where every command runs, when the build has one; ended with the session (stopAll). */
  namespace?: PidNamespace;
}

/** Variables a shell sets for itself; carrying them over would only confuse the next shell. */
const SHELL_OWN = new Set(['_', 'SHLVL', 'PWD', 'OLDPWD']);
const OWN_PREFIX = '__stepline';

/** Output a process left behind keeps a pipe open; waiting longer than this for it is pointless. */
const DRAIN_MS = 200;

export class ShellSession {
  env: Record<string, string>;
  cwd: string;
  private readonly options: ShellSessionOptions;
  private readonly groups = new Set<number>();
  private readonly envBinary: string | undefined;
  private count = 0;

  constructor(options: ShellSessionOptions) {
    this.options = options;
    this.env = { ...options.env };
    this.cwd = options.cwd;
    if (/["$`\\]/.test(options.stateDir)) throw new Error(`state directory ${options.stateDir} holds shell metacharacters`);
    // An absolute path: the build may change PATH, or run with a PATH that lacks env.
    this.envBinary = ['/usr/bin/env', '/bin/env'].find((path) => existsSync(path));
  }

  /** Runs one command to its end, streaming its output. */
  async run(command: string, output: CommandOutput, signal?: AbortSignal): Promise<CommandResult> {
    if (signal?.aborted) return { exitCode: null, signal: null, stopped: true };
    const n = ++this.count;
    const script = join(this.options.stateDir, `command-${n}.sh`);
    const envFile = join(this.options.stateDir, `env-${n}`);
    const pwdFile = join(this.options.stateDir, `pwd-${n}`);
    const carry = this.options.carryState && this.envBinary !== undefined;
    // One line, so that the shell's "line N" in an error message is off by one only.
    const prologue = carry
      ? [`set -a; trap '${OWN_PREFIX}_status=$?; "${this.envBinary}" -0 > "${envFile}"; pwd > "${pwdFile}"; exit $${OWN_PREFIX}_status' EXIT`]
      : [];
    writeFileSync(script, `${[...prologue, command].join('\n')}\n`, { mode: 0o600 });
    try {
      const result = await this.spawnScript(script, output, signal);
      if (carry && !result.stopped) this.takeState(envFile, pwdFile);
      return result;
    } finally {
      for (const file of [script, envFile, pwdFile]) rmSync(file, { force: true });
    }
  }

  /**
   * Expands `$VAR`, `${VAR}` and `$(command)` in each value as the shell would inside double quotes,
   * with the build's environment (artifact names such as `build-$(date +%Y%m%d)`).
   */
  async expand(values: readonly string[], cwd: string, onError: (text: string) => void): Promise<string[] | undefined> {
    const quoted = values.map((v) => `"${v.replace(/"/g, '\\"').replace(/\\$/, '\\\\')}"`);
    const script = join(this.options.stateDir, `expand-${++this.count}.sh`);
    writeFileSync(script, `printf '%s\\0' ${quoted.join(' ')}\n`, { mode: 0o600 });
    let stdout = '';
    try {
      const result = await this.spawnScript(script, { stdout: (t) => (stdout += t), stderr: onError }, undefined, cwd);
      if (result.exitCode !== 0) return undefined;
    } finally {
      rmSync(script, { force: true });
    }
    const expanded = stdout.split('\0');
    return expanded.length === values.length + 1 ? expanded.slice(0, values.length) : undefined;
  }

  /**
   * Stops every process the build left running; resolves to how many process groups were still alive.
   * The namespace, if any, ends last: it takes what left its group (`setsid`) with it.
   */
  async stopAll(): Promise<number> {
    const alive = [...this.groups].filter(groupAlive);
    await Promise.all(alive.map((group) => this.terminate(group)));
    for (const group of this.groups) releaseProcessGroup(group);
    this.groups.clear();
    await this.options.namespace?.end();
    return alive.length;
  }

  private spawnScript(script: string, output: CommandOutput, signal: AbortSignal | undefined, cwd = this.cwd): Promise<CommandResult> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawnOwned(this.options.namespace, this.options.shell, [script], { cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (error) {
        resolve({ exitCode: null, signal: null, stopped: false, error: (error as Error).message });
        return;
      }
      const pid = child.pid;
      if (pid !== undefined) this.groups.add(pid);
      let stopped = false;
      // A stop resolves only once no process of the group is left (but zombies), so that whoever
      // reports the build stopped never reports it while one of its processes still runs.
      let terminated: Promise<void> = Promise.resolve();
      const onAbort = () => {
        stopped = true;
        if (pid !== undefined) terminated = this.terminate(pid);
      };
      signal?.addEventListener('abort', onAbort, { once: true });

      const streamsClosed = Promise.all(
        [child.stdout, child.stderr].map((stream, i) => {
          if (!stream) return Promise.resolve();
          stream.setEncoding('utf8');
          stream.on('data', (text: string) => (i === 0 ? output.stdout(text) : output.stderr(text)));
          return new Promise<void>((done) => stream.once('close', () => done()));
        }),
      );
      child.once('error', (error) => {
        signal?.removeEventListener('abort', onAbort);
        resolve({ exitCode: null, signal: null, stopped, error: error.message });
      });
      child.once('exit', (exitCode, exitSignal) => {
        signal?.removeEventListener('abort', onAbort);
        // A process started in the background keeps the pipes open: take what output there is, not wait for it.
        let drainTimer: ReturnType<typeof setTimeout> | undefined;
        const drained = new Promise<void>((done) => {
          drainTimer = setTimeout(done, DRAIN_MS);
        });
        void Promise.race([streamsClosed, drained])
          .then(() => terminated)
          .then(() => {
            // Cleared, so that the timer does not hold the process open after the build.
            clearTimeout(drainTimer);
            resolve({ exitCode, signal: exitSignal, stopped });
          });
      });
    });
  }

  /** SIGTERM to the whole process group, then SIGKILL to whatever is left after the grace period. */
  private terminate(group: number): Promise<void> {
    return terminateGroup(group, this.options.killGraceMs ?? 3000);
  }

  private takeState(envFile: string, pwdFile: string): void {
    // No saved state: the shell did not reach its EXIT trap (`exec`, killed); keep what we had.
    if (!existsSync(envFile)) return;
    const env: Record<string, string> = {};
    for (const entry of readFileSync(envFile, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const name = entry.slice(0, eq);
      if (SHELL_OWN.has(name) || name.startsWith(OWN_PREFIX)) continue;
      env[name] = entry.slice(eq + 1);
    }
    this.env = env;
    const cwd = existsSync(pwdFile) ? readFileSync(pwdFile, 'utf8').replace(/\n$/, '') : '';
    if (cwd !== '' && isDirectory(cwd)) this.cwd = cwd;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
