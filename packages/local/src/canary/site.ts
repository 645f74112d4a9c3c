/**
 * One deploy action's place on this machine (CodeDeploy's deployment group): the weighted proxy on
 * `local.port`, the versions running behind it, and which one is live. Each deployment made there gets
 * core's canary ports as classes (ports.ts), so the step logic is the same as on AWS.
 */
import { existsSync } from 'node:fs';
import { cp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CanaryPorts,
  type CanaryRequest,
  type DeploymentKey,
  type DeploymentRecordStore,
  type DeploymentSpec,
  ErrorName,
  SteplineError,
} from '@stepline/core';
import { fileSafe } from '../runtime/context';
import { CommandHooks, LocalAlarms, LocalEnvironment, ProxyRouter, SiteDeployment } from './ports';
import { AppProcess, freePort } from './processes';
import { type BackendStats, type ProxyRoute, WeightedProxy } from './proxy';
import type { LiveRecord, LiveRecords } from './records';

export type LocalSpec = NonNullable<DeploymentSpec['local']>;

export interface SiteOptions {
  key: Omit<DeploymentKey, 'executionId'>;
  artifactDir(pipeline: string, executionId: string, artifact: string): string;
  /** Copies a sealed artifact into `dest`, checked against its manifest. */
  copyArtifact(pipeline: string, executionId: string, artifact: string, dest: string): Promise<unknown>;
  /** Where each deployment's working copy of its artifact is kept (a version runs and its hooks write there). */
  workRoot: string;
  live: LiveRecords;
  log(line: string): void;
  /** How long a version may take to answer its health path after it starts. */
  startTimeoutMs: number;
  hookTimeoutMs: number;
}

export interface LocalVersion {
  /** The execution that deployed it. */
  id: string;
  /** Its working copy of the artifact: the process's cwd, kept while the version may run. */
  workDir: string;
  command: string;
  healthPath: string;
  process: AppProcess;
  /** For a green: the version that was live when it was installed. */
  blueOf: string | undefined;
}

const backend = (v: LocalVersion) => ({ id: v.id, port: v.process.port });

export class LocalSite {
  private proxy: WeightedProxy | undefined;
  private readonly versions = new Map<string, LocalVersion>();
  private primary: string | undefined;
  private restored = false;
  /** Green's counters at the last alarm check (or weight change): the window of the next check. */
  private readonly marks = new Map<string, BackendStats>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Per execution: aborted when it is stopped, to end its hook commands and health waits at once. */
  private readonly stops = new Map<string, AbortController>();
  private readonly warned = new Set<string>();

  constructor(private readonly options: SiteOptions) {}

  /**
   * Ends what an execution's operation is waiting on (a hook command, green's start), so that its
   * rollback, queued behind that operation, runs now rather than when the wait would have ended.
   */
  cancel(executionId: string): void {
    this.stops.get(executionId)?.abort();
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
      if (keepLive && version.id === this.primary) continue;
      await this.removeVersion(version, { forget: false });
    }
    if (keepLive && this.primary !== undefined) return;
    await this.proxy?.close();
    this.proxy = undefined;
    this.restored = false;
    this.primary = undefined;
  }

  /** Core's canary ports for one deployment made on this site. */
  portsFor(request: CanaryRequest, records: DeploymentRecordStore): CanaryPorts {
    const local = request.deployment.local;
    if (!local) throw new SteplineError(ErrorName.ActionFailed, 'this deploy action has no local target (local.command): it runs only on AWS');
    const deployment = new SiteDeployment(this, request, local);
    const router = new ProxyRouter(deployment);
    return {
      environment: new LocalEnvironment(deployment, router),
      router,
      alarms: new LocalAlarms(deployment),
      hooks: new CommandHooks(deployment),
      records,
      now: () => new Date(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      log: (message) => this.log(message),
    };
  }

  // What the ports (ports.ts) use of the site.

  get primaryId(): string | undefined {
    return this.primary;
  }

  get startTimeoutMs(): number {
    return this.options.startTimeoutMs;
  }

  get hookTimeoutMs(): number {
    return this.options.hookTimeoutMs;
  }

  version(id: string): LocalVersion | undefined {
    return this.versions.get(id);
  }

  /** The sealed artifact: read, never run in (a file written there would break its manifest). */
  artifactDir(request: CanaryRequest): string {
    return this.options.artifactDir(request.pipeline, request.executionId, request.inputArtifact.name);
  }

  /**
   * The deployment's working copy of its artifact, where its version runs and its hooks run: made once
   * (checked against the manifest, as the invoke handler copies its input), then kept per version, so a
   * live version started again later finds what it wrote.
   */
  async workDir(request: CanaryRequest): Promise<string> {
    const dir = this.workDirOf(request.executionId);
    if (existsSync(dir)) return dir;
    const partial = `${dir}.partial`;
    await rm(partial, { recursive: true, force: true });
    await this.options.copyArtifact(request.pipeline, request.executionId, request.inputArtifact.name, partial);
    await rename(partial, dir);
    return dir;
  }

  private workDirOf(executionId: string): string {
    const { pipeline, stage, action } = this.options.key;
    return join(this.options.workRoot, ...[pipeline, stage, action, executionId].map(fileSafe));
  }

  /** Starts a version's process on a free port; it answers once healthy (see checkGreenHealth). */
  async startVersion(name: string, spec: Omit<LocalVersion, 'process' | 'blueOf'>): Promise<LocalVersion> {
    const port = await freePort();
    const process = await AppProcess.start({ name, command: spec.command, cwd: spec.workDir, port, log: (l) => this.options.log(l) });
    const version: LocalVersion = { ...spec, process, blueOf: this.primary };
    this.versions.set(version.id, version);
    return version;
  }

  /** The live version from now on, remembered on disk so that a later run starts it again. */
  makePrimary(version: LocalVersion): void {
    this.primary = version.id;
    this.options.live.put(this.options.key, {
      executionId: version.id,
      workDir: version.workDir,
      command: version.command,
      healthPath: version.healthPath,
      updatedAt: new Date().toISOString(),
    });
  }

  route(weights: ReadonlyArray<{ version: LocalVersion; weight: number }>): void {
    this.requireProxy().setRoutes(weights.map(({ version, weight }): ProxyRoute => ({ backend: backend(version), weight })));
  }

  /** The share of the proxy's traffic that goes to a version, in percent. */
  greenShare(id: string): number {
    const routes = this.requireProxy().routes();
    const total = routes.reduce((sum, r) => sum + r.weight, 0);
    const green = routes.find((r) => r.backend.id === id);
    return total === 0 || !green ? 0 : Math.round((100 * green.weight) / total);
  }

  /** A version's requests and 5xx answers since the last mark, and a new mark. */
  markWindow(id: string): BackendStats {
    const now = this.requireProxy().stats(id);
    const before = this.marks.get(id) ?? { requests: 0, serverErrors: 0 };
    this.marks.set(id, now);
    return { requests: now.requests - before.requests, serverErrors: now.serverErrors - before.serverErrors };
  }

  /** Says something once per site. */
  warnOnce(topic: string, message: string): void {
    if (this.warned.has(topic)) return;
    this.warned.add(topic);
    this.log(message);
  }

  /** Aborted when the execution is stopped: ends its hook commands and health waits at once. */
  signal(executionId: string): AbortSignal {
    let controller = this.stops.get(executionId);
    if (!controller) {
      controller = new AbortController();
      this.stops.set(executionId, controller);
    }
    return controller.signal;
  }

  /** A line of a version's or a hook's output. */
  output(line: string): void {
    this.options.log(line);
  }

  log(message: string): void {
    this.options.log(`${this.options.key.stage} · ${this.options.key.action}: ${message}`);
  }

  /** Out of the routes, in-flight requests finished, process stopped. */
  async removeVersion(version: LocalVersion, options: { forget: boolean }): Promise<void> {
    const proxy = this.proxy;
    if (proxy) {
      proxy.setRoutes(proxy.routes().filter((r) => r.backend.id !== version.id));
      await proxy.drain(version.id);
    }
    await version.process.stop();
    this.versions.delete(version.id);
    this.marks.delete(version.id);
    if (this.primary === version.id) {
      this.primary = undefined;
      if (options.forget) this.options.live.delete(this.options.key);
    }
    // A version that will not run again needs its working copy no more; the live one keeps it for the next start.
    if (options.forget) await rm(version.workDir, { recursive: true, force: true });
  }

  private async restoreLive(): Promise<void> {
    const live = this.options.live.get(this.options.key);
    if (!live || this.primary !== undefined) return;
    live.workDir ??= await this.adoptRecordWithoutWorkDir(live);
    if (!live.workDir || !existsSync(live.workDir)) {
      this.log(
        `the live version recorded on disk (execution ${live.executionId}) is gone from ${live.workDir ?? 'its working copy'}: the next deployment is an initial one`,
      );
      return;
    }
    const port = await freePort();
    const proc = await AppProcess.start({ name: `live ${live.executionId}`, command: live.command, cwd: live.workDir, port, log: (l) => this.options.log(l) });
    const health = await proc.waitHealthy(live.healthPath, this.options.startTimeoutMs);
    if (!health.healthy) {
      await proc.stop();
      this.log(`the live version (execution ${live.executionId}) did not start again (${health.detail}): the next deployment is an initial one`);
      return;
    }
    const version: LocalVersion = {
      id: live.executionId,
      workDir: live.workDir,
      command: live.command,
      healthPath: live.healthPath,
      process: proc,
      blueOf: undefined,
    };
    this.versions.set(version.id, version);
    this.primary = version.id;
    this.requireProxy().setRoutes([{ backend: backend(version), weight: 100 }]);
    this.log(`started the live version again (execution ${live.executionId}) from ${live.workDir} on port ${port}`);
  }

  /**
   * A live record written before versions had working copies names the artifact the version ran in:
   * the version gets a working copy of it now, so a deployment after an upgrade still has a blue.
   */
  private async adoptRecordWithoutWorkDir(live: LiveRecord & { artifactDir?: string }): Promise<string | undefined> {
    if (!live.artifactDir || !existsSync(live.artifactDir)) return undefined;
    const dir = this.workDirOf(live.executionId);
    if (!existsSync(dir)) {
      await cp(live.artifactDir, `${dir}.partial`, { recursive: true });
      await rename(`${dir}.partial`, dir);
    }
    this.options.live.put(this.options.key, { ...live, workDir: dir });
    return dir;
  }

  private requireProxy(): WeightedProxy {
    if (!this.proxy) throw new SteplineError(ErrorName.ActionFailed, 'the local proxy is not running');
    return this.proxy;
  }
}
