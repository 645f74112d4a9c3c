/**
 * What each canary operation does, written once for both runtimes against the ports in `ports.ts`.
 * The state machine decides the order (the plan, bakes, catch → rollback); this module makes each
 * step safe to repeat and safe to race with a rollback:
 *
 * - Every operation is idempotent: it looks at what is really there (`snapshot()`) before it acts.
 * - A deployment record is written before green exists, so every green has a recorded owner, and a
 *   stopped execution's deployments can be found and rolled back (`abortExecution`).
 * - A rollback marks the record `RollingBack` before it moves traffic. A forward operation that ran
 *   at the same time re-reads the record when it ends and, if a rollback began, undoes its own work
 *   by running the rollback steps again. Whatever the interleaving, traffic ends on blue.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html
 */
import { ErrorName, SteplineError } from '../errors';
import { CanaryOperation } from './plan';
import { type CanaryPorts, type DeploymentRecord, DeploymentStatus, type Route, type StoredRecord, type VersionInfo } from './ports';
import { type AbortRequest, type CanaryRequest, type DeploymentKey, deploymentKey } from './request';

export interface CanaryOptions {
  /** How long a weight may take to read back as set before the step fails. @default 30000 */
  weightSettleMs?: number;
  /** How often the weight is read back while it settles. @default 1000 */
  weightPollMs?: number;
}

/** What an operation reports (the Lambda's `Payload`). */
export interface CanaryResult {
  operation: CanaryOperation;
  status: DeploymentStatus;
  message: string;
  /** Green's share of production traffic after a setWeight or finalize. */
  greenWeight?: number;
  blue?: VersionInfo;
  green?: VersionInfo;
  /** The first deployment of this action: no blue existed beside green. */
  initial?: boolean;
  /** Rollback: what caused it, in words (the alarm, hook or health check). */
  cause?: string;
}

const MAX_RECORD_ATTEMPTS = 8;

interface Run {
  request: CanaryRequest;
  key: DeploymentKey;
  ports: CanaryPorts;
  settleMs: number;
  pollMs: number;
}

export async function runCanaryOperation(request: CanaryRequest, ports: CanaryPorts, options: CanaryOptions = {}): Promise<CanaryResult> {
  const run: Run = { request, key: deploymentKey(request), ports, settleMs: options.weightSettleMs ?? 30_000, pollMs: options.weightPollMs ?? 1_000 };
  switch (request.operation) {
    case CanaryOperation.Rollback:
      return rollback(run, request.reason);
    case CanaryOperation.Cleanup:
      return cleanup(run);
    default:
      return forward(run);
  }
}

/**
 * Rolls back every deployment the execution has in flight. Called when an execution is stopped or
 * times out (Step Functions runs no Catch then). `rollback` runs one rollback request, built from the
 * deployment's record (usually `runCanaryOperation` with the provider's ports for that request).
 */
export async function abortExecution(
  request: AbortRequest,
  records: Pick<CanaryPorts['records'], 'listInFlight'>,
  rollback: (request: CanaryRequest) => Promise<CanaryResult>,
): Promise<CanaryResult[]> {
  const reason = request.reason ?? 'the execution was stopped';
  const results: CanaryResult[] = [];
  const failures: unknown[] = [];
  for (const record of await records.listInFlight(request.pipeline, request.executionId)) {
    try {
      results.push(await rollback(rollbackRequestFor(record, reason)));
    } catch (error) {
      failures.push(error);
    }
  }
  // Every deployment got its attempt; the first failure makes the caller retry the lot (each is idempotent).
  if (failures.length > 0) throw failures[0];
  return results;
}

/** The rollback request a deployment's record stands for. */
export function rollbackRequestFor(record: DeploymentRecord, reason: string): CanaryRequest {
  return {
    ...deploymentKey(record),
    operation: CanaryOperation.Rollback,
    reason,
    deployment: record.deployment,
    inputArtifact: record.inputArtifact,
  };
}

/** A failure cause in words: Lambda causes arrive as JSON (`{"errorMessage": …}`), local ones as text. */
export function describeCause(reason: string | undefined): string {
  if (reason === undefined || reason === '') return 'no cause was given';
  try {
    const parsed: unknown = JSON.parse(reason);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause is the text itself
  }
  return reason;
}

// ---------------------------------------------------------------------------------------------------
// Forward operations: hook, prepare, allowTestTraffic, setWeight, checkAlarms, finalize

async function forward(run: Run): Promise<CanaryResult> {
  const { record } = await ensureRecord(run);
  const op = run.request.operation;
  if (record.status === DeploymentStatus.RollingBack || record.status === DeploymentStatus.RolledBack) throw rolledBackError(record);
  if (record.status === DeploymentStatus.Succeeded) return result(run, record.status, 'the deployment has completed; nothing to do');
  if (record.status === DeploymentStatus.Finalized && op !== CanaryOperation.Finalize && op !== CanaryOperation.Hook)
    return result(run, record.status, 'all traffic is on green already; nothing to do');

  let outcome: CanaryResult | undefined;
  let failure: unknown;
  try {
    outcome = await forwardBody(run, record);
  } catch (error) {
    failure = error;
  }
  // A rollback that began while this ran (a stopped execution) must win: undo what this step did.
  const after = await run.ports.records.get(run.key);
  if (after && (after.record.status === DeploymentStatus.RollingBack || after.record.status === DeploymentStatus.RolledBack)) {
    run.ports.log('a rollback began while this step ran: undoing the step', { operation: op });
    await rollbackSteps(run, after.record);
    throw rolledBackError(after.record);
  }
  if (failure !== undefined || outcome === undefined) throw failure;
  return outcome;
}

async function forwardBody(run: Run, record: DeploymentRecord): Promise<CanaryResult> {
  const { environment, hooks, alarms, log } = run.ports;
  const step = run.request.step;
  switch (run.request.operation) {
    case CanaryOperation.Hook: {
      if (step?.type !== 'hook') throw new TypeError('a hook operation needs a hook step');
      const snap = await environment.snapshot();
      const outcome = await hooks.run({ hook: step.hook, blue: snap.blue, green: snap.green });
      if (!outcome.succeeded) throw new SteplineError(ErrorName.HookFailed, `${step.hook} hook failed: ${outcome.detail}`);
      log(`${step.hook} hook succeeded`, { detail: outcome.detail });
      return result(run, record.status, `${step.hook} hook succeeded: ${outcome.detail}`, snap);
    }
    case CanaryOperation.Prepare: {
      let snap = await environment.snapshot();
      if (!snap.green) {
        const initial = snap.blue === undefined;
        if (initial) log('initial deployment: nothing is live yet, so green takes all traffic once it is healthy');
        else log(`blue is ${snap.blue?.description}`);
        // Recorded before green exists: a rollback must know whether green stood alone from the start.
        await updateRecord(run, (r) => (r.status === DeploymentStatus.InProgress ? { ...r, initial } : undefined));
        const green = await environment.createGreen();
        log(`green is ${green.description}`);
        snap = await environment.snapshot();
      }
      const health = await environment.checkGreenHealth();
      if (!health.healthy)
        throw new SteplineError(ErrorName.HealthCheckFailed, `green (${snap.green?.description ?? 'not installed'}) is not healthy: ${health.detail}`);
      const initial = (await run.ports.records.get(run.key))?.record.initial;
      return { ...result(run, record.status, `green is installed and healthy: ${health.detail}`, snap), ...(initial !== undefined && { initial }) };
    }
    case CanaryOperation.AllowTestTraffic: {
      const snap = await requireGreen(run);
      if (!run.ports.router.hasRoute('test')) return result(run, record.status, 'no test listener is configured; green is reached only directly', snap);
      await applyWeight(run, 'test', 100);
      return result(run, record.status, 'test traffic goes to green', snap);
    }
    case CanaryOperation.SetWeight: {
      if (step?.type !== 'setWeight') throw new TypeError('a setWeight operation needs a setWeight step');
      const snap = await requireGreen(run);
      // With no blue there is nothing to split with: green serves everything (an initial deployment).
      const weight = snap.blue ? step.weight : 100;
      if (weight !== step.weight) log(`no blue: green takes ${weight}% instead of ${step.weight}%`);
      await applyWeight(run, 'production', weight);
      log(`production traffic: ${weight}% green`);
      return { ...result(run, record.status, `${weight}% of production traffic goes to green`, snap), greenWeight: weight };
    }
    case CanaryOperation.CheckAlarms: {
      const firing = await alarms.firing();
      if (firing.length > 0) throw new SteplineError(ErrorName.CanaryAlarm, `alarm ${firing.map((f) => `${f.name}: ${f.reason}`).join('; ')}`);
      return result(run, record.status, 'no alarm is firing');
    }
    case CanaryOperation.Finalize: {
      const snap = await requireGreen(run);
      if (record.status === DeploymentStatus.Finalized && snap.primary === 'green')
        return { ...result(run, record.status, 'all traffic is on green, which is primary', snap), greenWeight: 100 };
      await applyWeight(run, 'production', 100);
      if (snap.primary !== 'green') await environment.setPrimary('green');
      const status = await transition(run, [DeploymentStatus.InProgress], DeploymentStatus.Finalized);
      log('all traffic is on green, which is primary; blue waits for the termination wait');
      return { ...result(run, status, 'all traffic is on green, which is primary', snap), greenWeight: 100 };
    }
    default:
      throw new TypeError(`${run.request.operation} is not a forward operation`);
  }
}

async function requireGreen(run: Run) {
  const snap = await run.ports.environment.snapshot();
  if (!snap.green) throw new SteplineError(ErrorName.ActionFailed, 'green is not installed: the prepare step has not run for this deployment');
  return snap;
}

// ---------------------------------------------------------------------------------------------------
// Cleanup and rollback

async function cleanup(run: Run): Promise<CanaryResult> {
  const stored = await run.ports.records.get(run.key);
  if (!stored) throw new SteplineError(ErrorName.ActionFailed, 'no deployment to clean up: there is no record of it');
  const { record } = stored;
  if (record.status === DeploymentStatus.RollingBack || record.status === DeploymentStatus.RolledBack) throw rolledBackError(record);
  if (record.status === DeploymentStatus.InProgress) throw new SteplineError(ErrorName.ActionFailed, 'cleanup before finalize: traffic is not all on green');
  // Marked done first: a rollback that starts later sees a completed deployment and leaves blue alone,
  // and one that started earlier makes this transition fail before blue is touched.
  const status = await transition(run, [DeploymentStatus.Finalized], DeploymentStatus.Succeeded);
  const before = await run.ports.environment.snapshot();
  if (before.blue) {
    await run.ports.environment.remove('blue');
    run.ports.log(`blue removed: ${before.blue.description}`);
  }
  // The same answer however often it is asked, whether this call or an earlier one removed blue.
  return result(run, status, 'deployment complete: green serves all traffic and blue is removed', { blue: undefined, green: before.green });
}

async function rollback(run: Run, reason: string | undefined): Promise<CanaryResult> {
  const cause = describeCause(reason);
  let stored = await run.ports.records.get(run.key);
  if (!stored) stored = await ensureRecord(run, DeploymentStatus.RollingBack, cause);
  if (stored.record.status === DeploymentStatus.Succeeded) {
    run.ports.log('the deployment had completed (blue removed); nothing to roll back');
    return { ...result(run, stored.record.status, 'the deployment had completed; nothing to roll back'), cause };
  }
  if (stored.record.status !== DeploymentStatus.RolledBack) {
    await updateRecord(run, (r) =>
      r.status === DeploymentStatus.RollingBack || r.status === DeploymentStatus.RolledBack || r.status === DeploymentStatus.Succeeded
        ? undefined
        : { ...r, status: DeploymentStatus.RollingBack, reason: cause },
    );
    stored = (await run.ports.records.get(run.key)) ?? stored;
    if (stored.record.status === DeploymentStatus.Succeeded)
      return { ...result(run, stored.record.status, 'the deployment had completed; nothing to roll back'), cause };
  }
  run.ports.log(`rolling back: ${cause}`);
  const message = await rollbackSteps(run, stored.record);
  const status = await transition(run, [DeploymentStatus.RollingBack], DeploymentStatus.RolledBack);
  return { ...result(run, status, message), cause: stored.record.reason ?? cause };
}

/** Traffic to blue, blue primary, green removed. Safe to run any number of times, from any point. */
async function rollbackSteps(run: Run, record: DeploymentRecord): Promise<string> {
  const { environment, router, log } = run.ports;
  const snap = await environment.snapshot();
  if (!snap.green) {
    // A step that raced this rollback may have written a weight after green was removed: take it back.
    await applyWeight(run, 'production', 0, { whileRollingBack: true });
    return 'green was not installed (or is removed already): traffic is on blue';
  }
  if (!snap.blue && !record.initial) {
    log('blue is gone already (cleanup ran): green stays live');
    return 'blue was removed already, so green stays live';
  }
  await applyWeight(run, 'production', 0, { whileRollingBack: true });
  if (router.hasRoute('test')) await applyWeight(run, 'test', 0, { whileRollingBack: true });
  if (snap.blue && snap.primary === 'green') await environment.setPrimary('blue');
  await environment.remove('green');
  const message = snap.blue
    ? `traffic is back on blue (${snap.blue.description}); green (${snap.green.description}) removed`
    : `initial deployment: green (${snap.green.description}) removed; nothing was live before it, so nothing is live now`;
  log(message);
  return message;
}

// ---------------------------------------------------------------------------------------------------
// Weights

async function applyWeight(run: Run, route: Route, weight: number, options: { whileRollingBack?: boolean } = {}): Promise<void> {
  const { router, now, sleep } = run.ports;
  // Read first: a repeated step writes nothing (ALB's ModifyListener is rate-limited).
  if ((await router.verifyWeight(route, weight)).verified) return;
  await router.setWeight(route, weight);
  const deadline = now().getTime() + run.settleMs;
  for (;;) {
    const check = await router.verifyWeight(route, weight);
    if (check.verified) return;
    if (now().getTime() >= deadline) {
      const message = `${route} traffic did not read back as ${weight}% green within ${Math.round(run.settleMs / 1000)} s: ${check.detail}`;
      // A rollback must finish: let the state machine retry it rather than give up.
      throw options.whileRollingBack ? new SteplineError(ErrorName.Transient, message) : new SteplineError(ErrorName.WeightNotApplied, message);
    }
    await sleep(run.pollMs);
  }
}

// ---------------------------------------------------------------------------------------------------
// Records

function newRecord(run: Run, status: DeploymentStatus, reason?: string): DeploymentRecord {
  const at = run.ports.now().toISOString();
  return {
    ...run.key,
    status,
    deployment: run.request.deployment,
    inputArtifact: run.request.inputArtifact,
    ...(reason !== undefined && { reason }),
    startedAt: at,
    updatedAt: at,
  };
}

async function ensureRecord(run: Run, status: DeploymentStatus = DeploymentStatus.InProgress, reason?: string): Promise<StoredRecord> {
  for (let attempt = 0; attempt < MAX_RECORD_ATTEMPTS; attempt++) {
    const existing = await run.ports.records.get(run.key);
    if (existing) return existing;
    const created = await run.ports.records.create(newRecord(run, status, reason));
    if (created) return created;
  }
  throw new SteplineError(ErrorName.Transient, 'the deployment record kept changing while it was read');
}

/** Applies `change` with a conditional write, re-reading on conflict; `change` returns undefined to leave it. */
async function updateRecord(run: Run, change: (record: DeploymentRecord) => DeploymentRecord | undefined): Promise<DeploymentRecord> {
  for (let attempt = 0; attempt < MAX_RECORD_ATTEMPTS; attempt++) {
    const stored = await ensureRecord(run);
    const next = change(stored.record);
    if (!next) return stored.record;
    const written = await run.ports.records.replace({ ...next, updatedAt: run.ports.now().toISOString() }, stored.version);
    if (written) return written.record;
  }
  throw new SteplineError(ErrorName.Transient, 'the deployment record kept changing while it was written');
}

async function transition(run: Run, from: readonly DeploymentStatus[], to: DeploymentStatus): Promise<DeploymentStatus> {
  const record = await updateRecord(run, (r) => (r.status !== to && from.includes(r.status) ? { ...r, status: to } : undefined));
  if (record.status === to) return to;
  if (record.status === DeploymentStatus.RollingBack || record.status === DeploymentStatus.RolledBack) throw rolledBackError(record);
  throw new SteplineError(ErrorName.ActionFailed, `the deployment is ${record.status}; it cannot become ${to}`);
}

function rolledBackError(record: DeploymentRecord): SteplineError {
  return new SteplineError(ErrorName.DeploymentRolledBack, `the deployment was rolled back (${record.reason ?? 'no cause recorded'}); nothing further runs`);
}

function result(run: Run, status: DeploymentStatus, message: string, snap?: { blue: VersionInfo | undefined; green: VersionInfo | undefined }): CanaryResult {
  return {
    operation: run.request.operation,
    status,
    message,
    ...(snap?.blue && { blue: snap.blue }),
    ...(snap?.green && { green: snap.green }),
  };
}
