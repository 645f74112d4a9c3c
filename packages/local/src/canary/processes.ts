/**
 * The app's versions as local processes: `local.command` in a shell, in the artifact's directory, with
 * `PORT` set. Each is contained (contained-process.ts): stopping it stops whatever the command started
 * (`npm start` → node), a process that called `setsid` included where there is a PID namespace, and all
 * of it ends with this process, however it ends. A hook's command runs the same way (runCommand).
 */
import { get } from 'node:http';
import { createServer } from 'node:net';
import type { HealthReport } from '@stepline/core';
import { ContainedProcess } from '../process/contained-process';
import { OutputTail } from '../process/output-tail';
import { describeContainment } from '../process/pid-namespace';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One GET against a local port: ok when it answers 2xx. */
export async function probe(port: number, path: string, timeoutMs = 2_000): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve({ ok: status >= 200 && status < 300, detail: `GET ${path} answered ${status}` });
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (error) => resolve({ ok: false, detail: `GET ${path} failed: ${error.message}` }));
  });
}

export interface AppProcessOptions {
  /** Names the process in log lines: "green exec-2". */
  name: string;
  command: string;
  cwd: string;
  /** Passed as PORT; a hook runs without one. */
  port?: number;
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export class AppProcess {
  private readonly output: OutputTail;
  private readonly exit: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly options: AppProcessOptions,
    private readonly contained: ContainedProcess,
  ) {
    this.output = new OutputTail((line) => options.log?.(`[${options.name}] ${line}`));
    const { child } = contained;
    child.stdout?.on('data', (d: Buffer) => this.output.push(d));
    child.stderr?.on('data', (d: Buffer) => this.output.push(d));
    // Exited once nothing the command started runs any more: the shell may end before what it started.
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : null);
        void contained.end().then(() => resolve(this.exitCode ?? null));
      });
      child.once('error', (error) => {
        this.output.push(Buffer.from(`${error.message}\n`));
        this.exitCode = 127;
        void contained.end().then(() => resolve(127));
      });
    });
  }

  static async start(options: AppProcessOptions): Promise<AppProcess> {
    const contained = await ContainedProcess.start('/bin/sh', ['-c', options.command], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, ...(options.port !== undefined && { PORT: String(options.port) }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    options.log?.(`[${options.name}] ${describeContainment(contained.containment, 'command')}`);
    return new AppProcess(options, contained);
  }

  get port(): number {
    return this.options.port ?? 0;
  }

  get pid(): number | undefined {
    return this.contained.child.pid;
  }

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  waitForExit(): Promise<number | null> {
    return this.exit;
  }

  /** The last lines the process printed. */
  recentOutput(): string {
    return this.output.text();
  }

  /** Polls the health path until it answers 2xx, the process exits, or time runs out. */
  async waitHealthy(path: string, timeoutMs: number, signal?: AbortSignal, intervalMs = 100): Promise<HealthReport> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (signal?.aborted) return { healthy: false, detail: 'the execution was stopped while green was starting' };
      if (this.exited) return { healthy: false, detail: `${this.options.name} exited with ${this.exitCode} before it was healthy${this.tail()}` };
      const answer = await probe(this.port, path, Math.min(2_000, Math.max(100, deadline - Date.now())));
      if (answer.ok) return { healthy: true, detail: `${answer.detail} on port ${this.port}` };
      last = answer.detail;
      if (Date.now() >= deadline) return { healthy: false, detail: `${last} after ${Math.round(timeoutMs / 1000)} s${this.tail()}` };
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves once nothing the command started runs. */
  async stop(graceMs = 5_000): Promise<void> {
    await this.contained.stop(graceMs);
    await this.exit;
  }

  private tail(): string {
    const text = this.recentOutput();
    return text ? `; last output:\n${text}` : '';
  }
}

export interface CommandResult {
  exitCode: number | null;
  output: string;
  timedOut: boolean;
  /** Stopped through the signal (the execution was stopped). */
  cancelled: boolean;
}

/** Runs a command to completion (a lifecycle hook), contained as an app version is, with a time limit. */
export async function runCommand(
  command: string,
  options: { cwd: string; env?: Record<string, string>; timeoutMs: number; log?: (line: string) => void; name: string; signal?: AbortSignal },
): Promise<CommandResult> {
  const proc = await AppProcess.start({ name: options.name, command, cwd: options.cwd, env: options.env ?? {}, ...(options.log && { log: options.log }) });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.stop(1_000);
  }, options.timeoutMs);
  const cancel = () => void proc.stop(1_000);
  options.signal?.addEventListener('abort', cancel, { once: true });
  if (options.signal?.aborted) cancel();
  const exitCode = await proc.waitForExit();
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', cancel);
  return { exitCode, output: proc.recentOutput(), timedOut, cancelled: options.signal?.aborted ?? false };
}
