/**
 * Core's canary ports on one machine, one class per port as on AWS (EcsBlueGreen, AlbRouter,
 * CloudWatchAlarms, LambdaHooks): the versions are processes, the router is the weighted proxy, the
 * alarm is green's health and 5xx rate through the proxy, and hooks are shell commands.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AlarmFinding,
  type AlarmMonitor,
  APPSPEC_FILES,
  type CanaryRequest,
  type DeploymentEnvironment,
  type DeploymentSnapshot,
  ErrorName,
  type HealthReport,
  type HookContext,
  type HookOutcome,
  type HookRunner,
  parseLambdaAppSpec,
  type Route,
  SteplineError,
  type TrafficRouter,
  type VersionInfo,
  type WeightCheck,
} from '@stepline/core';
import { probe, runCommand } from './processes';
import type { LocalSite, LocalSpec, LocalVersion } from './site';

/**
 * Below this many requests to green since the last check, its 5xx share says too little to act on;
 * the health check still runs. At the default threshold (5%), 20 requests make two 5xx answers an alarm.
 */
export const MIN_REQUESTS_FOR_ERROR_RATE = 20;

const info = (v: LocalVersion): VersionInfo => ({ id: v.id, description: `execution ${v.id} on port ${v.process.port} (${v.artifactDir})` });

/** One deployment on a site: the execution's green, and the blue it replaces. */
export class SiteDeployment {
  constructor(
    readonly site: LocalSite,
    readonly request: CanaryRequest,
    readonly local: LocalSpec,
  ) {}

  get id(): string {
    return this.request.executionId;
  }

  green(): LocalVersion | undefined {
    return this.site.version(this.id);
  }

  blue(): LocalVersion | undefined {
    const green = this.green();
    const blueId = green ? green.blueOf : this.site.primaryId;
    return blueId === undefined || blueId === this.id ? undefined : this.site.version(blueId);
  }
}

/** The versions as processes behind the proxy (ECS task sets on AWS). */
export class LocalEnvironment implements DeploymentEnvironment {
  constructor(
    private readonly deployment: SiteDeployment,
    private readonly router: ProxyRouter,
  ) {}

  async snapshot(): Promise<DeploymentSnapshot> {
    const green = this.deployment.green();
    const blue = this.deployment.blue();
    const primaryId = this.deployment.site.primaryId;
    return {
      blue: blue && info(blue),
      green: green && info(green),
      primary: primaryId === undefined ? undefined : primaryId === green?.id ? 'green' : primaryId === blue?.id ? 'blue' : undefined,
    };
  }

  async createGreen(): Promise<VersionInfo> {
    const existing = this.deployment.green();
    if (existing) return info(existing);
    const { request, local, site } = this.deployment;
    const dir = site.artifactDir(request);
    if (!existsSync(dir)) throw new SteplineError(ErrorName.ArtifactInvalid, `input artifact ${request.inputArtifact.name} is not on disk at ${dir}`);
    const version = await site.startVersion(`green ${request.executionId}`, {
      id: request.executionId,
      artifactDir: dir,
      command: local.command,
      healthPath: local.healthPath,
    });
    this.router.routeTo(0);
    return info(version);
  }

  async checkGreenHealth(): Promise<HealthReport> {
    const green = this.deployment.green();
    if (!green) return { healthy: false, detail: 'green is not running' };
    return green.process.waitHealthy(this.deployment.local.healthPath, this.deployment.site.startTimeoutMs, this.deployment.site.signal(this.deployment.id));
  }

  async setPrimary(which: 'blue' | 'green'): Promise<void> {
    const version = which === 'green' ? this.deployment.green() : this.deployment.blue();
    if (version) this.deployment.site.makePrimary(version);
  }

  async remove(which: 'blue' | 'green'): Promise<void> {
    const version = which === 'green' ? this.deployment.green() : this.deployment.blue();
    if (version) await this.deployment.site.removeVersion(version, { forget: true });
  }
}

/** The weighted proxy on `local.port` (the ALB listener on AWS); one machine has no test route. */
export class ProxyRouter implements TrafficRouter {
  constructor(private readonly deployment: SiteDeployment) {}

  hasRoute(route: Route): boolean {
    return route === 'production';
  }

  async setWeight(route: Route, greenWeight: number): Promise<void> {
    if (route === 'production') this.routeTo(greenWeight);
  }

  async verifyWeight(route: Route, greenWeight: number): Promise<WeightCheck> {
    if (route !== 'production') return { verified: true, detail: 'no test route on one machine' };
    const share = this.deployment.site.greenShare(this.deployment.id);
    return { verified: share === greenWeight, detail: `the proxy sends ${share}% to green` };
  }

  /** Blue gets the rest; green's counters start a new alarm window. */
  routeTo(greenWeight: number): void {
    const green = this.deployment.green();
    const blue = this.deployment.blue();
    this.deployment.site.route([...(blue ? [{ version: blue, weight: 100 - greenWeight }] : []), ...(green ? [{ version: green, weight: greenWeight }] : [])]);
    if (green) this.deployment.site.markWindow(green.id);
  }
}

/** Green's health and its 5xx rate through the proxy since the last check (CloudWatch alarms on AWS). */
export class LocalAlarms implements AlarmMonitor {
  constructor(private readonly deployment: SiteDeployment) {}

  async firing(): Promise<AlarmFinding[]> {
    const { request, local, site } = this.deployment;
    if (request.deployment.alarms.length > 0)
      site.warnOnce('alarms', `CloudWatch alarms (${request.deployment.alarms.join(', ')}) are checked on AWS; here the alarm is green's health and 5xx rate`);
    const green = this.deployment.green();
    if (!green) return [];
    const findings: AlarmFinding[] = [];
    const health = await probe(green.process.port, local.healthPath);
    if (!health.ok) findings.push({ name: 'green health check', reason: health.detail });
    const { requests, serverErrors: errors } = site.markWindow(green.id);
    if (requests >= MIN_REQUESTS_FOR_ERROR_RATE && errors / requests > local.errorRateThreshold) {
      const pct = ((100 * errors) / requests).toFixed(1);
      findings.push({
        name: 'green 5xx rate',
        reason: `${errors} of ${requests} requests through the proxy (${pct}%) answered 5xx since the last check, above ${100 * local.errorRateThreshold}%`,
      });
    }
    return findings;
  }
}

/** The function the appspec at the root of `dir` names for `hook`, if there is an appspec and it names one. */
async function appSpecHook(dir: string, hook: HookContext['hook']): Promise<string | undefined> {
  const file = APPSPEC_FILES.find((name) => existsSync(join(dir, name)));
  if (file === undefined) return undefined;
  return parseLambdaAppSpec(await readFile(join(dir, file), 'utf8'), file).hooks[hook];
}

/**
 * Lifecycle hooks as shell commands in the artifact, told where green, blue and the proxy answer (Lambda
 * hooks on AWS). A hook reports by its exit status: 0 is Succeeded, anything else Failed.
 */
export class CommandHooks implements HookRunner {
  constructor(private readonly deployment: SiteDeployment) {}

  async run({ hook }: HookContext): Promise<HookOutcome> {
    const { request, local, site } = this.deployment;
    const spec = request.deployment.hooks[hook];
    if (spec === undefined) {
      // Only a deployment that reads its appspec has a step for a hook the definition does not name (see `deploymentPlan`).
      const named = await appSpecHook(site.artifactDir(request), hook);
      if (named === undefined) return { succeeded: true, detail: `no ${hook} hook: neither the appspec nor the definition names one` };
      site.log(`${hook}: the appspec names ${named}, a Lambda function, which runs on AWS; skipped here`);
      return { succeeded: true, detail: `skipped on one machine: ${named} is a Lambda function` };
    }
    const command = typeof spec === 'string' ? undefined : spec.command;
    if (command === undefined) {
      const fn = typeof spec === 'string' ? spec : spec?.function;
      site.log(`${hook}: only a Lambda function (${fn}) is given, which runs on AWS; skipped here`);
      return { succeeded: true, detail: `skipped on one machine: ${fn} is a Lambda function` };
    }
    const green = this.deployment.green();
    const blue = this.deployment.blue();
    const url = (port: number) => `http://127.0.0.1:${port}`;
    const deploymentId = [request.pipeline, request.stage, request.action, request.executionId].join('/');
    const result = await runCommand(command, {
      signal: site.signal(request.executionId),
      name: `${hook} hook`,
      cwd: site.artifactDir(request),
      timeoutMs: site.hookTimeoutMs,
      log: (line) => site.output(line),
      env: {
        STEPLINE_HOOK: hook,
        STEPLINE_PIPELINE: request.pipeline,
        STEPLINE_STAGE: request.stage,
        STEPLINE_ACTION: request.action,
        STEPLINE_EXECUTION_ID: request.executionId,
        // CodeDeploy's ids for the hook; the exit status is the report PutLifecycleEventHookExecutionStatus makes on AWS.
        STEPLINE_DEPLOYMENT_ID: deploymentId,
        STEPLINE_HOOK_EXECUTION_ID: `${deploymentId}-${hook}`,
        PROXY_URL: url(local.port),
        ...(green && { GREEN_URL: url(green.process.port) }),
        ...(blue && { BLUE_URL: url(blue.process.port) }),
      },
    });
    if (result.cancelled) return { succeeded: false, detail: `\`${command}\` was stopped: the execution was stopped` };
    if (result.timedOut) return { succeeded: false, detail: `\`${command}\` did not finish within ${Math.round(site.hookTimeoutMs / 1000)} s` };
    if (result.exitCode !== 0) return { succeeded: false, detail: `\`${command}\` exited with ${result.exitCode}${result.output ? `: ${result.output}` : ''}` };
    return { succeeded: true, detail: `\`${command}\` exited with 0` };
  }
}
