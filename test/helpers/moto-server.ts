/**
 * moto_server for integration tests: started once per test file on a free loopback port, reset between
 * tests. When moto_server is not installed the tests are skipped with the reason printed, except under
 * CI=true, where its absence is a failure (CI installs it).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '@stepline/local';
import { afterAll, beforeAll } from 'vitest';

/** moto's default region for the tests, and the account id moto gives every resource unless told otherwise. */
export const MOTO_REGION = 'us-east-1';
export const MOTO_ACCOUNT = '123456789012';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Clears every service's state (`POST /moto-api/reset`); configuration stays. */
  reset(): Promise<void>;
  /** `POST /moto-api/config`, e.g. `{ stepfunctions: { execute_state_machine: true } }`. */
  configure(config: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export function motoAvailable(): boolean {
  try {
    execFileSync('moto_server', ['--help'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** Why moto tests can't run here, or undefined when they can. Throws under CI, where they must run. */
export function motoSkipReason(): string | undefined {
  if (motoAvailable()) return undefined;
  const reason = 'moto_server is not on PATH (pip install "moto[server]"); skipping AWS integration tests';
  if (process.env.CI === 'true') throw new Error(`${reason}: not allowed under CI=true`);
  console.warn(`SKIPPED: ${reason}`);
  return reason;
}

export interface StartMotoOptions {
  /**
   * Enforce IAM: the first `n` requests are free (make the first user), every later one must be signed
   * by an IAM user made in moto, whose policies are evaluated. Readiness is then checked without a
   * request, so none of the free ones is spent on it.
   */
  freeRequests?: number;
}

export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const enforce = options.freeRequests !== undefined;
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, MOTO_PORT: String(port), ...(enforce && { INITIAL_NO_AUTH_ACTION_COUNT: String(options.freeRequests) }) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + String(d)).slice(-4000);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    try {
      if (enforce) {
        if (await listening(port)) break;
      } else {
        const res = await fetch(`${endpoint}/moto-api/`);
        if (res.status < 500) break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const post = async (path: string, body?: unknown) => {
    const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`moto ${path}: ${res.status} ${await res.text()}`);
  };
  return {
    endpoint,
    port,
    reset: () => post('/moto-api/reset'),
    configure: (config) => post('/moto-api/config', config),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** SDK client settings for moto: its endpoint, fixed credentials, one attempt (retried 500s duplicate). */
export function motoClientConfig(moto: Pick<MotoServer, 'endpoint'>) {
  return {
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
    forcePathStyle: true,
  };
}

/**
 * moto_server for the tests of the `describe` it is called in: started before them, stopped after.
 * The answer gives the running server to a test.
 */
export function motoForSuite(options: StartMotoOptions = {}): () => MotoServer {
  let moto: MotoServer | undefined;
  beforeAll(async () => {
    moto = await startMoto(options);
  });
  afterAll(() => moto?.stop());
  return () => {
    if (!moto) throw new Error('moto_server did not start');
    return moto;
  };
}
