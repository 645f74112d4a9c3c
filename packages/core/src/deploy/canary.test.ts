import { describe, expect, it } from 'vitest';
import { ErrorName } from '../errors';
import type { LifecycleHook } from '../model/schema';
import { abortExecution, describeCause, runCanaryOperation } from './canary';
import type { AlarmFinding, CanaryPorts, DeploymentKey, DeploymentRecordStore, DeploymentSnapshot, HookOutcome, Route, StoredRecord } from './index';
import { deploymentPlan, type PlanStep } from './plan';
import { type CanaryRequest, parseCanaryRequest } from './request';

/**
 * A provider in memory that behaves like ECS task sets behind ALB weights: versions are owned by the
 * execution that created them, blue is remembered on green (as a tag), weights can lag on read.
 */
class FakeWorld {
  versions: Array<{ id: string; owner: string; blueOf: string | undefined }> = [];
  primary: string | undefined;
  weights: Record<Route, number> = { production: 0, test: 0 };
  /** Every production weight ever set, to prove what traffic green saw. */
  history: number[] = [];
  lagReads = 0;
  firing: AlarmFinding[] = [];
  hookOutcomes: Partial<Record<LifecycleHook, HookOutcome>> = {};
  healthy = true;
  hooksRun: LifecycleHook[] = [];
  records = new Map<string, StoredRecord>();
  /** Runs inside setWeight, before the weight is applied: lets a test race a rollback with a step. */
  beforeSetWeight: (() => Promise<void>) | undefined;
  testRoute = false;

  constructor(live?: string) {
    if (live) {
      this.versions.push({ id: live, owner: 'earlier', blueOf: undefined });
      this.primary = live;
    }
  }

  /** What a test compares: the provider's state, records without timestamps. */
  state() {
    return {
      versions: this.versions.map((v) => v.id),
      primary: this.primary,
      weights: { ...this.weights },
      records: [...this.records.values()].map(({ record: { startedAt: _s, updatedAt: _u, ...r } }) => r),
    };
  }

  ports(key: DeploymentKey): CanaryPorts {
    const own = () => this.versions.find((v) => v.owner === key.executionId);
    const snapshot = async (): Promise<DeploymentSnapshot> => {
      const green = own();
      const blue = this.versions.find((v) => v.id === (green ? green.blueOf : this.primary));
      const info = (v: { id: string } | undefined) => (v ? { id: v.id, description: `version ${v.id}` } : undefined);
      return {
        blue: info(blue),
        green: info(green),
        primary: this.primary === undefined ? undefined : this.primary === green?.id ? 'green' : this.primary === blue?.id ? 'blue' : undefined,
      };
    };
    const records: DeploymentRecordStore = {
      get: async (k) => this.records.get(recordKey(k)),
      create: async (record) => {
        if (this.records.has(recordKey(record))) return undefined;
        const stored = { record, version: '1' };
        this.records.set(recordKey(record), stored);
        return stored;
      },
      replace: async (record, version) => {
        const current = this.records.get(recordKey(record));
        if (!current || current.version !== version) return undefined;
        const stored = { record, version: String(Number(version) + 1) };
        this.records.set(recordKey(record), stored);
        return stored;
      },
      listInFlight: async (pipeline, executionId) =>
        [...this.records.values()]
          .map((s) => s.record)
          .filter((r) => r.pipeline === pipeline && r.executionId === executionId && ['InProgress', 'Finalized', 'RollingBack'].includes(r.status)),
    };
    return {
      environment: {
        snapshot,
        createGreen: async () => {
          const existing = own();
          if (!existing) this.versions.push({ id: `v-${key.executionId}`, owner: key.executionId, blueOf: this.primary });
          return { id: `v-${key.executionId}`, description: `version v-${key.executionId}` };
        },
        checkGreenHealth: async () => ({ healthy: this.healthy, detail: this.healthy ? '2 of 2 targets healthy' : '0 of 2 targets healthy' }),
        setPrimary: async (which) => {
          const snap = await snapshot();
          this.primary = (which === 'green' ? snap.green : snap.blue)?.id;
        },
        remove: async (which) => {
          const snap = await snapshot();
          const id = (which === 'green' ? snap.green : snap.blue)?.id;
          if (id === this.primary) throw new Error('removing the primary version');
          this.versions = this.versions.filter((v) => v.id !== id);
        },
      },
      router: {
        hasRoute: (route) => route === 'production' || this.testRoute,
        setWeight: async (route, weight) => {
          await this.beforeSetWeight?.();
          this.weights[route] = weight;
          if (route === 'production') this.history.push(weight);
        },
        verifyWeight: async (route, weight) => {
          if (this.lagReads > 0) {
            this.lagReads--;
            return { verified: false, detail: 'not yet' };
          }
          return { verified: this.weights[route] === weight, detail: `reads ${this.weights[route]}` };
        },
      },
      alarms: { firing: async () => this.firing },
      hooks: {
        run: async ({ hook }) => {
          this.hooksRun.push(hook);
          return this.hookOutcomes[hook] ?? { succeeded: true, detail: 'ok' };
        },
      },
      records,
      now: () => new Date(clock.now),
      sleep: async (ms) => {
        clock.now += ms;
      },
      log: () => undefined,
    };
  }
}

const clock = { now: Date.parse('2025-01-01T00:00:00Z') };
const recordKey = (k: DeploymentKey) => [k.pipeline, k.executionId, k.stage, k.action].join('/');

const KEY = { pipeline: 'web', stage: 'Deploy', action: 'Canary', executionId: 'exec-2' };
const HOOKS = { BeforeAllowTraffic: 'validate', AfterAllowTraffic: 'smoke' };

function request(step: PlanStep | 'cleanup' | 'rollback', executionId = KEY.executionId, reason?: string): CanaryRequest {
  const operation = typeof step === 'string' ? step : step.type;
  return parseCanaryRequest({
    ...KEY,
    executionId,
    operation,
    ...(typeof step !== 'string' && { step }),
    ...(reason !== undefined && { reason }),
    deployment: { alarms: ['web-5xx'], hooks: HOOKS, terminationWaitMinutes: 5, local: { command: 'node app.js' } },
    inputArtifact: { name: 'Build', location: `bucket/web/${executionId}/Build/` },
  });
}

const PLAN = deploymentPlan({ strategy: 'CodeDeployDefault.ECSCanary10Percent5Minutes', hooks: HOOKS }, { checkIntervalSeconds: 60, testTraffic: false });
const OPTIONS = { weightSettleMs: 5_000, weightPollMs: 1_000 };

async function runPlan(world: FakeWorld, executionId = KEY.executionId): Promise<void> {
  for (const step of PLAN) {
    if (step.type === 'wait') continue;
    await runCanaryOperation(request(step, executionId), world.ports({ ...KEY, executionId }), OPTIONS);
  }
}

describe('a canary deployment', () => {
  it('moves traffic step by step, makes green primary, and removes blue at cleanup', async () => {
    // Prepare
    const world = new FakeWorld('v-blue');
    // Act
    await runPlan(world);
    const beforeCleanup = world.state();
    const cleanup = await runCanaryOperation(request('cleanup'), world.ports(KEY), OPTIONS);
    // Assess
    expect(world.history).toStrictEqual([10, 100]);
    expect(world.hooksRun).toStrictEqual(['BeforeAllowTraffic', 'AfterAllowTraffic']);
    expect(beforeCleanup).toMatchObject({ versions: ['v-blue', 'v-exec-2'], primary: 'v-exec-2', weights: { production: 100 } });
    expect(world.state()).toMatchObject({ versions: ['v-exec-2'], primary: 'v-exec-2', records: [{ status: 'Succeeded', initial: false }] });
    expect(cleanup).toMatchObject({ operation: 'cleanup', status: 'Succeeded', green: { id: 'v-exec-2' } });
  });

  it('leaves the same state when every operation is called twice', async () => {
    const once = new FakeWorld('v-blue');
    const twice = new FakeWorld('v-blue');
    for (const step of [...PLAN.filter((s) => s.type !== 'wait'), 'cleanup' as const]) {
      await runCanaryOperation(request(step), once.ports(KEY), OPTIONS);
      await runCanaryOperation(request(step), twice.ports(KEY), OPTIONS);
      await runCanaryOperation(request(step), twice.ports(KEY), OPTIONS);
      expect(twice.state(), JSON.stringify(step)).toStrictEqual(once.state());
    }
  });

  it('reads weights back until they show, and fails the step when they never do', async () => {
    const world = new FakeWorld('v-blue');
    await runCanaryOperation(request({ type: 'prepare' }), world.ports(KEY), OPTIONS);
    world.lagReads = 3;
    await expect(runCanaryOperation(request({ type: 'setWeight', weight: 10 }), world.ports(KEY), OPTIONS)).resolves.toMatchObject({ greenWeight: 10 });
    world.lagReads = 100;
    await expect(runCanaryOperation(request({ type: 'setWeight', weight: 50 }), world.ports(KEY), OPTIONS)).rejects.toMatchObject({
      name: ErrorName.WeightNotApplied,
      message: 'production traffic did not read back as 50% green within 5 s: not yet',
    });
  });

  it('fails prepare with Stepline.HealthCheckFailed when green does not become healthy', async () => {
    const world = new FakeWorld('v-blue');
    world.healthy = false;
    await expect(runCanaryOperation(request({ type: 'prepare' }), world.ports(KEY), OPTIONS)).rejects.toMatchObject({
      name: ErrorName.HealthCheckFailed,
      message: 'green (version v-exec-2) is not healthy: 0 of 2 targets healthy',
    });
  });

  it('sends test traffic to green when a test route exists, and back to blue on rollback', async () => {
    const world = new FakeWorld('v-blue');
    world.testRoute = true;
    await runCanaryOperation(request({ type: 'prepare' }), world.ports(KEY), OPTIONS);
    await runCanaryOperation(request({ type: 'allowTestTraffic' }), world.ports(KEY), OPTIONS);
    expect(world.weights.test).toBe(100);
    await runCanaryOperation(request('rollback', KEY.executionId, 'AfterAllowTestTraffic hook failed'), world.ports(KEY), OPTIONS);
    expect(world.weights).toStrictEqual({ production: 0, test: 0 });
  });
});

describe('rollback', () => {
  it('after an alarm in a bake: traffic back on blue, blue primary, green removed', async () => {
    const world = new FakeWorld('v-blue');
    const steps = PLAN.filter((s) => s.type !== 'wait');
    for (const step of steps.slice(0, 3)) await runCanaryOperation(request(step), world.ports(KEY), OPTIONS);
    world.firing = [{ name: 'web-5xx', reason: 'Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).' }];

    const failure = runCanaryOperation(request({ type: 'checkAlarms' }), world.ports(KEY), OPTIONS);
    await expect(failure).rejects.toMatchObject({
      name: ErrorName.CanaryAlarm,
      message: 'alarm web-5xx: Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).',
    });
    const lambdaCause = JSON.stringify({ errorType: ErrorName.CanaryAlarm, errorMessage: 'alarm web-5xx: Threshold Crossed', trace: [] });
    const result = await runCanaryOperation(request('rollback', KEY.executionId, lambdaCause), world.ports(KEY), OPTIONS);

    expect(result).toMatchObject({ status: 'RolledBack', cause: 'alarm web-5xx: Threshold Crossed' });
    expect(world.state()).toMatchObject({ versions: ['v-blue'], primary: 'v-blue', weights: { production: 0 }, records: [{ status: 'RolledBack' }] });
    const after = world.state();
    await runCanaryOperation(request('rollback', KEY.executionId, lambdaCause), world.ports(KEY), OPTIONS);
    expect(world.state()).toStrictEqual(after);
  });

  it('after a failing BeforeAllowTraffic hook, before any production traffic moved', async () => {
    const world = new FakeWorld('v-blue');
    world.hookOutcomes.BeforeAllowTraffic = { succeeded: false, detail: 'validate answered {"status":"Failed"}' };
    await runCanaryOperation(request({ type: 'prepare' }), world.ports(KEY), OPTIONS);
    await expect(runCanaryOperation(request({ type: 'hook', hook: 'BeforeAllowTraffic' }), world.ports(KEY), OPTIONS)).rejects.toMatchObject({
      name: ErrorName.HookFailed,
      message: 'BeforeAllowTraffic hook failed: validate answered {"status":"Failed"}',
    });
    await runCanaryOperation(request('rollback', KEY.executionId, 'BeforeAllowTraffic hook failed'), world.ports(KEY), OPTIONS);
    expect(world.history.filter((w) => w > 0)).toStrictEqual([]);
    expect(world.state()).toMatchObject({ versions: ['v-blue'], primary: 'v-blue' });
  });

  it('during the termination wait puts blue back (as CodeDeploy’s stop and roll back)', async () => {
    const world = new FakeWorld('v-blue');
    await runPlan(world);
    await runCanaryOperation(request('rollback', KEY.executionId, 'stopped'), world.ports(KEY), OPTIONS);
    expect(world.state()).toMatchObject({ versions: ['v-blue'], primary: 'v-blue', weights: { production: 0 } });
  });

  it('after cleanup changes nothing: the deployment had completed', async () => {
    const world = new FakeWorld('v-blue');
    await runPlan(world);
    await runCanaryOperation(request('cleanup'), world.ports(KEY), OPTIONS);
    const done = world.state();
    const result = await runCanaryOperation(request('rollback', KEY.executionId, 'late'), world.ports(KEY), OPTIONS);
    expect(result).toMatchObject({ status: 'Succeeded', message: 'the deployment had completed; nothing to roll back' });
    expect(world.state()).toStrictEqual(done);
  });

  it('before anything was installed touches nothing', async () => {
    const world = new FakeWorld('v-blue');
    world.weights.production = 0;
    const result = await runCanaryOperation(request('rollback', KEY.executionId, 'BeforeInstall hook failed'), world.ports(KEY), OPTIONS);
    expect(result).toMatchObject({ status: 'RolledBack', message: 'green was not installed (or is removed already): traffic is on blue' });
    expect(world.history).toStrictEqual([]);
  });

  it('stops every later forward step', async () => {
    const world = new FakeWorld('v-blue');
    await runCanaryOperation(request({ type: 'prepare' }), world.ports(KEY), OPTIONS);
    await runCanaryOperation(request('rollback', KEY.executionId, 'stopped'), world.ports(KEY), OPTIONS);
    await expect(runCanaryOperation(request({ type: 'setWeight', weight: 10 }), world.ports(KEY), OPTIONS)).rejects.toMatchObject({
      name: ErrorName.DeploymentRolledBack,
    });
    expect(world.history).toStrictEqual([]);
  });
});

describe('an initial deployment (nothing live yet)', () => {
  it('sends all traffic to green, since there is no blue to split with', async () => {
    const world = new FakeWorld();
    await runPlan(world, 'exec-1');
    await runCanaryOperation(request('cleanup', 'exec-1'), world.ports({ ...KEY, executionId: 'exec-1' }), OPTIONS);
    expect(world.history).toStrictEqual([100]);
    expect(world.state()).toMatchObject({ versions: ['v-exec-1'], primary: 'v-exec-1', records: [{ status: 'Succeeded', initial: true }] });
  });

  it('rolls back to nothing: nothing was live before it', async () => {
    const world = new FakeWorld();
    const key = { ...KEY, executionId: 'exec-1' };
    await runCanaryOperation(request({ type: 'prepare' }, 'exec-1'), world.ports(key), OPTIONS);
    await runCanaryOperation(request({ type: 'setWeight', weight: 10 }, 'exec-1'), world.ports(key), OPTIONS);
    const result = await runCanaryOperation(request('rollback', 'exec-1', 'alarm'), world.ports(key), OPTIONS);
    expect(result.message).toBe('initial deployment: green (version v-exec-1) removed; nothing was live before it, so nothing is live now');
    expect(world.state()).toMatchObject({ versions: [], primary: undefined });
  });
});

describe('abortExecution (a stopped execution)', () => {
  it('rolls back the execution’s deployment in flight from its record', async () => {
    const world = new FakeWorld('v-blue');
    for (const step of PLAN.filter((s) => s.type !== 'wait').slice(0, 3)) await runCanaryOperation(request(step), world.ports(KEY), OPTIONS);
    const results = await abortExecution({ operation: 'abortExecution', pipeline: 'web', executionId: KEY.executionId }, world.ports(KEY).records, (r) =>
      runCanaryOperation(r, world.ports(r), OPTIONS),
    );
    expect(results).toMatchObject([{ operation: 'rollback', status: 'RolledBack', cause: 'the execution was stopped' }]);
    expect(world.state()).toMatchObject({ versions: ['v-blue'], primary: 'v-blue', weights: { production: 0 } });
    await expect(
      abortExecution({ operation: 'abortExecution', pipeline: 'web', executionId: KEY.executionId }, world.ports(KEY).records, (r) =>
        runCanaryOperation(r, world.ports(r), OPTIONS),
      ),
    ).resolves.toStrictEqual([]);
  });

  it('wins over a step that was moving traffic at the same moment', async () => {
    const world = new FakeWorld('v-blue');
    await runCanaryOperation(request({ type: 'prepare' }), world.ports(KEY), OPTIONS);
    // The stop lands while setWeight is between its check and its write: the rollback runs first.
    world.beforeSetWeight = async () => {
      world.beforeSetWeight = undefined;
      await abortExecution({ operation: 'abortExecution', pipeline: 'web', executionId: KEY.executionId }, world.ports(KEY).records, (r) =>
        runCanaryOperation(r, world.ports(r), OPTIONS),
      );
    };
    await expect(runCanaryOperation(request({ type: 'setWeight', weight: 50 }), world.ports(KEY), OPTIONS)).rejects.toMatchObject({
      name: ErrorName.DeploymentRolledBack,
    });
    expect(world.state()).toMatchObject({ versions: ['v-blue'], primary: 'v-blue', weights: { production: 0 }, records: [{ status: 'RolledBack' }] });
  });
});

describe('requests', () => {
  it('are parsed once: a setWeight needs its step', () => {
    expect(() => parseCanaryRequest({ ...request({ type: 'prepare' }), operation: 'setWeight' })).toThrow(
      'invalid canary request: step: expected a setWeight step',
    );
  });

  it('causes are told in words, from a Lambda error document or plain text', () => {
    expect(describeCause('{"errorType":"Stepline.HookFailed","errorMessage":"BeforeAllowTraffic hook failed: 503"}')).toBe(
      'BeforeAllowTraffic hook failed: 503',
    );
    expect(describeCause('Task timed out')).toBe('Task timed out');
    expect(describeCause(undefined)).toBe('no cause was given');
  });
});
