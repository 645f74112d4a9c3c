/**
 * For the local canary tests: artifact directories holding the fixture app, canary requests as the
 * compiled deploy action sends them, and a load generator that records which version answered.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlanStep } from '@stepline/core';
import { LocalArtifactStore } from '@stepline/local';

export const APP_SOURCE = join(import.meta.dirname, '..', 'fixtures', 'canary-app', 'server.mjs');

export interface Workspace {
  root: string;
  stateDir: string;
  artifactDir(pipeline: string, executionId: string, artifact: string): string;
  /**
   * A deployment's working copy, checked against the manifest by the artifact store; an artifact `build`
   * wrote is sealed by the store on its first use, as the build handler seals its output.
   */
  copyArtifact(pipeline: string, executionId: string, artifact: string, dest: string): Promise<unknown>;
  /** Writes the build artifact of one execution: the app and its version.json. */
  build(pipeline: string, executionId: string, version: string, mode?: 'fail' | 'unhealthy'): string;
}

export function workspace(): Workspace {
  const root = mkdtempSync(join(tmpdir(), 'stepline-canary-'));
  const store = new LocalArtifactStore(join(root, 'artifacts'));
  const artifactDir = (pipeline: string, executionId: string, artifact: string) => store.dir(pipeline, executionId, artifact);
  return {
    root,
    stateDir: join(root, 'state'),
    artifactDir,
    async copyArtifact(pipeline, executionId, artifact, dest) {
      if (!store.exists(pipeline, executionId, artifact)) await store.seal(pipeline, executionId, artifact);
      return store.copyTo(pipeline, executionId, artifact, dest);
    },
    build(pipeline, executionId, version, mode) {
      const dir = artifactDir(pipeline, executionId, 'Build');
      mkdirSync(dir, { recursive: true });
      copyFileSync(APP_SOURCE, join(dir, 'server.mjs'));
      writeFileSync(join(dir, 'version.json'), JSON.stringify({ version, ...(mode && { mode }) }));
      return dir;
    },
  };
}

export interface LocalTarget {
  port: number;
  errorRateThreshold?: number;
}

/** A canary Task's input, as the compiled deploy action builds it. */
export function canaryInput(
  target: LocalTarget,
  executionId: string,
  operation: PlanStep['type'] | 'cleanup' | 'rollback',
  extra: { step?: PlanStep; reason?: string; hooks?: Record<string, unknown> } = {},
) {
  return {
    FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:stepline-canary',
    Payload: {
      pipeline: 'web',
      stage: 'Deploy',
      action: 'Canary',
      executionId,
      operation,
      ...(extra.step && { step: extra.step }),
      ...(extra.reason !== undefined && { reason: extra.reason }),
      deployment: {
        alarms: [],
        hooks: extra.hooks ?? {},
        terminationWaitMinutes: 0,
        local: { command: 'node server.mjs', port: target.port, healthPath: '/health', errorRateThreshold: target.errorRateThreshold ?? 0.05 },
      },
      inputArtifact: { name: 'Build', location: `stepline-artifacts/web/${executionId}/Build/` },
    },
  };
}

export interface Answer {
  status: number;
  /** The version that answered (`x-stepline-version`: the execution that deployed it). */
  version: string | undefined;
  body: string;
  /** Which weight epoch the request was sent in. */
  epoch: number;
  error?: string;
}

export function get(port: number, agent: Agent, epoch = 0, path = '/'): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.headers['x-stepline-version'] as string | undefined, body, epoch }));
      res.on('error', (e) => resolve({ status: 0, version: undefined, body, epoch, error: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, version: undefined, body: '', epoch, error: e.message }));
    req.end();
  });
}

/**
 * Sends requests with `concurrency` workers until stopped. `epoch` is read when each request is sent,
 * so answers can be grouped by the weights in force when they left.
 */
export function load(port: number, concurrency: number, epoch: () => number = () => 0) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const answers: Answer[] = [];
  let running = true;
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) answers.push(await get(port, agent, epoch()));
  });
  return {
    answers,
    /** Resolves once `n` answers have arrived. */
    async until(n: number): Promise<void> {
      while (answers.length < n) await new Promise((r) => setTimeout(r, 5));
    },
    async stop(): Promise<Answer[]> {
      running = false;
      await Promise.all(workers);
      agent.destroy();
      return answers;
    },
  };
}
