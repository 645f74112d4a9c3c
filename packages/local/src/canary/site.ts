/**
 * One deploy action's place on this machine (CodeDeploy's deployment group): the weighted proxy on
 * `local.port`, the versions running behind it, and which one is live. It implements core's canary
 * ports for each deployment made there, so the step logic is the same as on AWS.
 */
import { existsSync } from 'node:fs';
import {
  type AlarmFinding,
  type CanaryPorts,
  type CanaryRequest,
  type DeploymentKey,
  type DeploymentRecordStore,
  type DeploymentSnapshot,
  type DeploymentSpec,
  ErrorName,
  type HookOutcome,
  type LifecycleHook,
  SteplineError,
  type VersionInfo,
} from '@stepline/core';
import { AppProcess, freePort, probe, runCommand } from './processes';
import { type BackendStats, type ProxyRoute, WeightedProxy } from './proxy';
import type { LiveRecords } from './records';

export type LocalSpec = NonNullable<DeploymentSpec['local']>;

/**
 * Below this many requests to green since the last check, its 5xx share says too little to act on;
 * the health check still runs. At the default threshold (5%), 20 requests make two 5xx answers an alarm.
 */
export const MIN_REQUESTS_FOR_ERROR_RATE = 20;

export interface SiteOptions {
  key: Omit<DeploymentKey, 'executionId'>;
  artifactDir(pipeline: string, executionId: string, artifact: string): string;
  live: LiveRecords;
  log(line: string): void;
  /** How long a version may take to answer its health path after it starts. */
  startTimeoutMs: number;
  hookTimeoutMs: number;
}

interface LocalVersion {
  /** The execution that deployed it. */
  id: string;
  artifactDir: string;
  command: string;
  healthPath: string;
  process: AppProcess;
  /** For a green: the version that was live when it was installed. */
  blueOf: string | undefined;
}

const info = (v: LocalVersion): VersionInfo => ({ id: v.id, description: `execution ${v.id} on port ${v.process.port} (${v.artifactDir})` });
const backend = (v: LocalVersion) => ({ id: v.id, port: v.process.port });

export class LocalSite {
  private proxy: WeightedProxy | undefined;
  private readonly versions = new Map<string, LocalVersion>();
  private primaryId: string | undefined;
  private restored = false;
  /** Green's counters at the last alarm check (or weight change): the window of the next check. */
  private readonly marks = new Map<string, BackendStats>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Per execution: aborted when it is stopped, to end its hook commands and health waits at once. */
  private readonly stops = new Map<string, AbortController>();
  private warnedAboutAlarms = false;

  constructor(private readonly options: SiteOptions) {}

  /**
   * Ends what an execution's operation is waiting on (a hook command, green's start), so that its
   * rollback, queued behind that operation, runs now rather than when the wait would have ended.
   */
  cancel(executionId: string): void {
    this.stops.get(executionId)?.abort();
  }

  private signal(executionId: string): AbortSignal {
    let controller = this.stops.get(executionId);
    if (!controller) {
      controller = new AbortController();
      this.stops.set(executionId, controller);
    }
    return controller.signal;
  }

  /** Runs `work` after every earlier call on this site has finished: one operation at a time. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The proxy on `local.port`, and the live version started again if an earlier run left one. */
  async ensureUp(local: LocalSpec): Promise<void> {
    if (!this.proxy || this.proxy.port !== local.port) {
      const routes = this.proxy?.routes() ?? [];
      await this.proxy?.close();
      this.proxy = undefined;
      try {
        this.proxy = await WeightedProxy.start({ port: local.port });
      } catch (error) {
        throw new SteplineError(
          ErrorName.ActionFailed,
          `the local proxy cannot listen on 127.0.0.1:${local.port} (${(error as Error).message}); set local.port`,
          {
            cause: error,
          },
        );
      }
      this.proxy.setRoutes(routes);
      this.log(`local ALB listening on http://127.0.0.1:${local.port}`);
    }
    if (!this.restored) {
      this.restored = true;
      await this.restoreLive();
    }
  }

  /** Stops every version and the proxy; with `keepLive`, the live version and its proxy stay up. */
  async close(keepLive: boolean): Promise<void> {
    for (const version of [...this.versions.values()]) {
      if (keepLive && version.id === this.primaryId) continue;
      await this.removeVersion(version, { forget: false });
    }
    if (keepLive && this.primaryId !== undefined) return;
    await this.proxy?.close();
    this.proxy = undefined;
    this.restored = false;
    this.primaryId = undefined;
  }

  portsFor(request: CanaryRequest, records: DeploymentRecordStore): CanaryPorts {
    const local = request.deployment.local;
    if (!local) throw new SteplineError(ErrorName.ActionFailed, 'this deploy action has no local target (local.command): it runs only on AWS');
    const id = request.executionId;
    const green = () => this.versions.get(id);
    const blue = () => {
      const g = green();
      const blueId = g ? g.blueOf : this.primaryId;
      return blueId === undefined || blueId === id ? undefined : this.versions.get(blueId);
    };
    const snapshot = async (): Promise<DeploymentSnapshot> => {
      const g = green();
      const b = blue();
      return {
        blue: b && info(b),
        green: g && info(g),
        primary: this.primaryId === undefined ? undefined : this.primaryId === g?.id ? 'green' : this.primaryId === b?.id ? 'blue' : undefined,
      };
    };
    const routeTo = (greenWeight: number) => {
      const g = green();
      const b = blue();
      const routes: ProxyRoute[] = [];
      if (b) routes.push({ backend: backend(b), weight: 100 - greenWeight });
      if (g) routes.push({ backend: backend(g), weight: greenWeight });
      this.requireProxy().setRoutes(routes);
      if (g) this.marks.set(g.id, this.requireProxy().stats(g.id));
    };
    const greenShare = () => {
      const routes = this.requireProxy().routes();
      const total = routes.reduce((sum, r) => sum + r.weight, 0);
      const g = routes.find((r) => r.backend.id === id);
      return total === 0 || !g ? 0 : Math.round((100 * g.weight) / total);
    };

    return {
      environment: {
        snapshot,
        createGreen: async () => {
          const existing = green();
          if (existing) return info(existing);
          const dir = this.options.artifactDir(request.pipeline, id, request.inputArtifact.name);
          if (!existsSync(dir)) throw new SteplineError(ErrorName.ArtifactInvalid, `input artifact ${request.inputArtifact.name} is not on disk at ${dir}`);
          const port = await freePort();
          const proc = AppProcess.start({ name: `green ${id}`, command: local.command, cwd: dir, port, log: (l) => this.options.log(l) });
          const version: LocalVersion = { id, artifactDir: dir, command: local.command, healthPath: local.healthPath, process: proc, blueOf: this.primaryId };
          this.versions.set(id, version);
          routeTo(0);
          return info(version);
        },
        checkGreenHealth: async () => {
          const g = green();
          if (!g) return { healthy: false, detail: 'green is not running' };
          return g.process.waitHealthy(local.healthPath, this.options.startTimeoutMs, this.signal(id));
        },
        setPrimary: async (which) => {
          const version = which === 'green' ? green() : blue();
          if (!version) return;
          this.primaryId = version.id;
          this.options.live.put(this.options.key, {
            executionId: version.id,
            artifactDir: version.artifactDir,
            command: version.command,
            healthPath: version.healthPath,
            updatedAt: new Date().toISOString(),
          });
        },
        remove: async (which) => {
          const version = which === 'green' ? green() : blue();
          if (version) await this.removeVersion(version, { forget: true });
        },
      },
      router: {
        hasRoute: (route) => route === 'production',
        setWeight: async (route, weight) => {
          if (route === 'production') routeTo(weight);
        },
        verifyWeight: async (route, weight) => {
          if (route !== 'production') return { verified: true, detail: 'no test route on one machine' };
          const share = greenShare();
          return { verified: share === weight, detail: `the proxy sends ${share}% to green` };
        },
      },
      alarms: {
        firing: async () => {
          if (request.deployment.alarms.length > 0 && !this.warnedAboutAlarms) {
            this.warnedAboutAlarms = true;
            this.log(`CloudWatch alarms (${request.deployment.alarms.join(', ')}) are checked on AWS; here the alarm is green's health and 5xx rate`);
          }
          const g = green();
          return g ? this.localAlarms(g, local) : [];
        },
      },
      hooks: {
        run: async ({ hook }) => this.runHook(hook, request, local, green(), blue()),
      },
      records,
      now: () => new Date(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      log: (message) => this.log(message),
    };
  }

  private async localAlarms(green: LocalVersion, local: LocalSpec): Promise<AlarmFinding[]> {
    const findings: AlarmFinding[] = [];
    const health = await probe(green.process.port, local.healthPath);
    if (!health.ok) findings.push({ name: 'green health check', reason: health.detail });
    const now = this.requireProxy().stats(green.id);
    const before = this.marks.get(green.id) ?? { requests: 0, serverErrors: 0 };
    this.marks.set(green.id, now);
    const requests = now.requests - before.requests;
    const errors = now.serverErrors - before.serverErrors;
    if (requests >= MIN_REQUESTS_FOR_ERROR_RATE && errors / requests > local.errorRateThreshold) {
      const pct = ((100 * errors) / requests).toFixed(1);
      findings.push({
        name: 'green 5xx rate',
        reason: `${errors} of ${requests} requests through the proxy (${pct}%) answered 5xx since the last check, above ${100 * local.errorRateThreshold}%`,
      });
    }
    return findings;
  }

  private async runHook(
    hook: LifecycleHook,
    request: CanaryRequest,
    local: LocalSpec,
    green: LocalVersion | undefined,
    blue: LocalVersion | undefined,
  ): Promise<HookOutcome> {
    const spec = request.deployment.hooks[hook];
    const command = spec === undefined || typeof spec === 'string' ? undefined : spec.command;
    if (command === undefined) {
      const fn = typeof spec === 'string' ? spec : spec?.function;
      this.log(`${hook}: only a Lambda function (${fn}) is given, which runs on AWS; skipped here`);
      return { succeeded: true, detail: `skipped on one machine: ${fn} is a Lambda function` };
    }
    const url = (port: number) => `http://127.0.0.1:${port}`;
    const result = await runCommand(command, {
      signal: this.signal(request.executionId),
      name: `${hook} hook`,
      cwd: this.options.artifactDir(request.pipeline, request.executionId, request.inputArtifact.name),
      timeoutMs: this.options.hookTimeoutMs,
      log: (l) => this.options.log(l),
      env: {
        STEPLINE_HOOK: hook,
        STEPLINE_PIPELINE: request.pipeline,
        STEPLINE_STAGE: request.stage,
        STEPLINE_ACTION: request.action,
        STEPLINE_EXECUTION_ID: request.executionId,
        PROXY_URL: url(local.port),
        ...(green && { GREEN_URL: url(green.process.port) }),
        ...(blue && { BLUE_URL: url(blue.process.port) }),
      },
    });
    if (result.cancelled) return { succeeded: false, detail: `\`${command}\` was stopped: the execution was stopped` };
    if (result.timedOut) return { succeeded: false, detail: `\`${command}\` did not finish within ${Math.round(this.options.hookTimeoutMs / 1000)} s` };
    if (result.exitCode !== 0) return { succeeded: false, detail: `\`${command}\` exited with ${result.exitCode}${result.output ? `: ${result.output}` : ''}` };
    return { succeeded: true, detail: `\`${command}\` exited with 0` };
  }

  /** Out of the routes, in-flight requests finished, process stopped. */
  private async removeVersion(version: LocalVersion, options: { forget: boolean }): Promise<void> {
    const proxy = this.proxy;
    if (proxy) {
      proxy.setRoutes(proxy.routes().filter((r) => r.backend.id !== version.id));
      await proxy.drain(version.id);
    }
    await version.process.stop();
    this.versions.delete(version.id);
    this.marks.delete(version.id);
    if (this.primaryId === version.id) {
      this.primaryId = undefined;
      if (options.forget) this.options.live.delete(this.options.key);
    }
  }

  private async restoreLive(): Promise<void> {
    const live = this.options.live.get(this.options.key);
    if (!live || this.primaryId !== undefined) return;
    if (!existsSync(live.artifactDir)) {
      this.log(`the live version recorded on disk (execution ${live.executionId}) is gone from ${live.artifactDir}: the next deployment is an initial one`);
      return;
    }
    const port = await freePort();
    const proc = AppProcess.start({ name: `live ${live.executionId}`, command: live.command, cwd: live.artifactDir, port, log: (l) => this.options.log(l) });
    const health = await proc.waitHealthy(live.healthPath, this.options.startTimeoutMs);
    if (!health.healthy) {
      await proc.stop();
      this.log(`the live version (execution ${live.executionId}) did not start again (${health.detail}): the next deployment is an initial one`);
      return;
    }
    const version: LocalVersion = {
      id: live.executionId,
      artifactDir: live.artifactDir,
      command: live.command,
      healthPath: live.healthPath,
      process: proc,
      blueOf: undefined,
    };
    this.versions.set(version.id, version);
    this.primaryId = version.id;
    this.requireProxy().setRoutes([{ backend: backend(version), weight: 100 }]);
    this.log(`started the live version again (execution ${live.executionId}) from ${live.artifactDir} on port ${port}`);
  }

  private requireProxy(): WeightedProxy {
    if (!this.proxy) throw new SteplineError(ErrorName.ActionFailed, 'the local proxy is not running');
    return this.proxy;
  }

  private log(message: string): void {
    this.options.log(`${this.options.key.stage} · ${this.options.key.action}: ${message}`);
  }
}
