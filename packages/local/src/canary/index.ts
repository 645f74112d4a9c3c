/**
 * The canary on one machine: the deploy action's Task states, bound to `createLocalCanary(...).handle`,
 * run the same step logic as the AWS Lambda (core's `runCanaryOperation`) against local ports: the
 * app's versions as processes, the weighted proxy as the ALB, health and the proxy's 5xx rate as the
 * alarm, hook commands as the hooks.
 */

import { join } from 'node:path';
import { abortExecution as abortDeployments, type CanaryRequest, type CanaryResult, parseCanaryRequest, runCanaryOperation } from '@stepline/core';
import { FileRecordStore, LiveRecords } from './records';
import { LocalSite } from './site';

export { MIN_REQUESTS_FOR_ERROR_RATE } from './ports';
export { type Backend, type BackendStats, type ProxyRoute, WeightedProxy, type WeightedProxyOptions } from './proxy';
export { FileRecordStore, type LiveRecord, LiveRecords } from './records';
export { SmoothWeightedScheduler, type WeightedEntry } from './scheduler';

export interface LocalCanaryOptions {
  /** Maps an artifact to its directory on disk: .stepline/artifacts/<pipeline>/<executionId>/<artifact>/ */
  artifactDir(pipeline: string, executionId: string, artifact: string): string;
  /** Copies a sealed artifact into `dest`, checked against its manifest (a deployment's working copy). */
  copyArtifact(pipeline: string, executionId: string, artifact: string, dest: string): Promise<unknown>;
  /** Where deployment records live (e.g. which artifact is live per pipeline/stage/action), under .stepline/. */
  stateDir: string;
  log?(line: string): void;
  /** How long a version may take to answer its health path after it starts. @default 60000 */
  startTimeoutMs?: number;
  /** How long a hook command may run. @default 3600000 (CodeDeploy allows a hook one hour) */
  hookTimeoutMs?: number;
}

export interface LocalCanary {
  /** Handles one canary Task's input (the Lambda-invoke Parameters above: {FunctionName, Payload}); resolves to {Payload: result} like the Lambda integration. */
  handle(input: unknown): Promise<unknown>;
  /** Stops every process and proxy this canary started (end of `stepline run`); with keepLive, the live version and its proxy stay up (for `stepline serve`). */
  close(options?: { keepLive?: boolean }): Promise<void>;
  /** Rolls back any deployment of this execution that is in flight (used when an execution is stopped). */
  abortExecution(executionId: string): Promise<void>;
}

/** Weights read back from the proxy at once; a short poll only covers a concurrent route change. */
const LOCAL_CANARY_OPTIONS = { weightSettleMs: 2_000, weightPollMs: 20 };

export function createLocalCanary(options: LocalCanaryOptions): LocalCanary {
  const records = new FileRecordStore(options.stateDir);
  const live = new LiveRecords(options.stateDir);
  const log = options.log ?? (() => undefined);
  const sites = new Map<string, LocalSite>();

  const siteFor = (r: CanaryRequest): LocalSite => {
    const id = JSON.stringify([r.pipeline, r.stage, r.action]);
    let site = sites.get(id);
    if (!site) {
      site = new LocalSite({
        key: { pipeline: r.pipeline, stage: r.stage, action: r.action },
        artifactDir: (p, e, a) => options.artifactDir(p, e, a),
        copyArtifact: (p, e, a, dest) => options.copyArtifact(p, e, a, dest),
        workRoot: join(options.stateDir, 'work'),
        live,
        log,
        startTimeoutMs: options.startTimeoutMs ?? 60_000,
        hookTimeoutMs: options.hookTimeoutMs ?? 60 * 60_000,
      });
      sites.set(id, site);
    }
    return site;
  };

  const run = (request: CanaryRequest): Promise<CanaryResult> => {
    const site = siteFor(request);
    return site.exclusive(async () => {
      const ports = site.portsFor(request, records);
      if (request.deployment.local) await site.ensureUp(request.deployment.local);
      return runCanaryOperation(request, ports, LOCAL_CANARY_OPTIONS);
    });
  };

  return {
    async handle(input) {
      const payload = input && typeof input === 'object' && 'Payload' in input ? input.Payload : input;
      return { Payload: await run(parseCanaryRequest(payload)) };
    },
    async close(closeOptions) {
      for (const site of sites.values()) await site.exclusive(() => site.close(closeOptions?.keepLive ?? false));
    },
    async abortExecution(executionId) {
      for (const site of sites.values()) site.cancel(executionId);
      const pipelines = new Set((await records.listInFlightForExecution(executionId)).map((r) => r.pipeline));
      for (const pipeline of pipelines) {
        const results = await abortDeployments({ operation: 'abortExecution', pipeline, executionId }, records, run);
        for (const r of results) log(`execution ${executionId} stopped: ${r.message}`);
      }
    },
  };
}
