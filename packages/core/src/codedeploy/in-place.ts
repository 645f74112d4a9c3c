/**
 * An in-place deployment as the state machine carries it between its Tasks: the hosts in batches,
 * the batch in flight, what each host answered, and the rollback to the last good revision. Pure:
 * the functions that send commands to hosts (SSM on AWS) only report what each host did, and
 * `afterBatch` decides what comes next.
 */
import * as z from 'zod';
import { type FleetRule, fleetRule, type MinimumHealthyHosts, nextStep } from './host-batches';

const text = z.string().min(1);
const RevisionRefSchema = z.object({
  /** The artifact's location (`bucket/pipeline/<execution>/<artifact>/` on AWS). */
  location: text,
  executionId: text,
});
/** A revision: an input artifact of one execution. */
export type RevisionRef = z.output<typeof RevisionRefSchema>;

export const InPlaceStatus = { InProgress: 'InProgress', Succeeded: 'Succeeded' } as const;
export type InPlaceStatus = (typeof InPlaceStatus)[keyof typeof InPlaceStatus];

const HostFailureSchema = z.object({ host: text, reason: z.string() });
export type HostFailure = z.output<typeof HostFailureSchema>;

const count = z.number().int().min(0);

/**
 * The deployment in flight, as the state machine hands it back to each advance: parsed there, so a
 * malformed one is refused with the path of what is wrong.
 */
export const InPlaceDeploymentSchema = z.object({
  deploymentId: text,
  /** `deploy` the new revision, or `rollback` to the last good one after the deploy failed. */
  phase: z.enum(['deploy', 'rollback']),
  /** The revision this phase installs. */
  revision: RevisionRefSchema,
  /** The last revision that deployed successfully, the rollback's target. */
  lastGood: RevisionRefSchema.optional(),
  autoRollback: z.boolean(),
  hosts: z.array(text).min(1),
  rule: z.object({ minimumHealthy: count, minimumSuccessful: count, onlyLastMayFail: z.boolean().optional() }) satisfies z.ZodType<FleetRule>,
  /** The batches sent so far; the last is in flight. */
  batches: z.array(z.array(text)),
  /** What the runtime needs to find the batch in flight again (SSM command ids, one per chunk of hosts). */
  commands: z.array(text).optional(),
  succeeded: z.array(text),
  failed: z.array(HostFailureSchema),
  /** Why the deployment is rolling back. */
  rollbackReason: z.string().optional(),
  status: z.enum([InPlaceStatus.InProgress, InPlaceStatus.Succeeded]),
  /** How long the state machine waits before asking about the batch again. */
  pollSeconds: z.number().int().positive(),
  /** When the whole deployment (rollback included) must have ended: the action's `timeoutMinutes` after it started. */
  deadline: z.iso.datetime().optional(),
  /** The `timeoutMinutes` the deadline comes from, for the message that says it passed. */
  timeoutMinutes: z.number().positive().optional(),
});
export type InPlaceDeployment = z.output<typeof InPlaceDeploymentSchema>;

/** What follows a finished batch. */
export type NextStep =
  | { kind: 'send'; deployment: InPlaceDeployment }
  | { kind: 'succeeded'; deployment: InPlaceDeployment }
  /** The deploy failed and there is nothing to roll back to (or rollback is off). */
  | { kind: 'failed'; message: string }
  /** The rollback finished: the deployment failed, the last good revision is back. */
  | { kind: 'rolledBack'; message: string }
  /** The rollback itself failed. */
  | { kind: 'rollbackFailed'; message: string };

export interface StartOptions {
  deploymentId: string;
  revision: RevisionRef;
  lastGood?: RevisionRef;
  autoRollback: boolean;
  hosts: readonly string[];
  minimumHealthyHosts: MinimumHealthyHosts;
  pollSeconds: number;
  /** When the deployment started and how long it may take in all (the action's `timeoutMinutes`). */
  limit?: { startedAt: number; timeoutMinutes: number };
}

/** A new deployment over `hosts` (sorted, so a retried start picks the same batches). */
export function startDeployment(o: StartOptions): InPlaceDeployment {
  const hosts = [...new Set(o.hosts)].sort();
  const rule = fleetRule(o.minimumHealthyHosts, hosts.length);
  const first = nextStep(rule, hosts, { succeeded: 0, failed: 0 });
  return {
    deploymentId: o.deploymentId,
    phase: 'deploy',
    revision: o.revision,
    ...(o.lastGood && { lastGood: o.lastGood }),
    autoRollback: o.autoRollback,
    hosts,
    rule,
    batches: first.verdict === 'continue' ? [first.batch] : [],
    succeeded: [],
    failed: [],
    status: InPlaceStatus.InProgress,
    pollSeconds: o.pollSeconds,
    ...(o.limit && {
      deadline: new Date(o.limit.startedAt + o.limit.timeoutMinutes * 60_000).toISOString(),
      timeoutMinutes: o.limit.timeoutMinutes,
    }),
  };
}

/** Why a deployment past its deadline fails, or undefined while it has time left. */
export function deadlinePassed(d: InPlaceDeployment, now: number): string | undefined {
  if (d.deadline === undefined || now < Date.parse(d.deadline)) return undefined;
  return `deployment exceeded timeoutMinutes ${d.timeoutMinutes} (it had until ${d.deadline})`;
}

/** The hosts of the batch in flight. */
export const currentBatch = (d: InPlaceDeployment): string[] => d.batches.at(-1) ?? [];

const describeFailures = (failed: readonly HostFailure[]) => failed.map((f) => `${f.host}: ${f.reason}`).join('; ');

/**
 * Folds the results of the batch in flight into the deployment and decides what comes next: the next
 * batch, success, a rollback to the last good revision on the hosts this deployment touched, or the end.
 */
export function afterBatch(d: InPlaceDeployment, results: ReadonlyArray<{ host: string; ok: boolean; reason?: string }>): NextStep {
  const succeeded = [...d.succeeded, ...results.filter((r) => r.ok).map((r) => r.host)];
  const failed = [...d.failed, ...results.filter((r) => !r.ok).map((r) => ({ host: r.host, reason: r.reason ?? 'failed' }))];
  const done = new Set([...succeeded, ...failed.map((f) => f.host)]);
  const step = nextStep(
    d.rule,
    d.hosts.filter((h) => !done.has(h)),
    { succeeded: succeeded.length, failed: failed.length },
  );
  const { commands: _sent, ...rest } = d;
  const next: InPlaceDeployment = { ...rest, succeeded, failed };
  if (step.verdict === 'continue') return { kind: 'send', deployment: { ...next, batches: [...d.batches, step.batch] } };
  if (step.verdict === 'succeeded') {
    if (d.phase === 'deploy') return { kind: 'succeeded', deployment: { ...next, status: InPlaceStatus.Succeeded } };
    return { kind: 'rolledBack', message: `${d.rollbackReason}; rolled back to the revision of execution ${d.revision.executionId}` };
  }
  const reason = `${failed.length} of ${d.hosts.length} instance${d.hosts.length === 1 ? '' : 's'} failed, ${d.rule.minimumSuccessful} must succeed (${describeFailures(failed)})`;
  if (d.phase === 'rollback') return { kind: 'rollbackFailed', message: `${d.rollbackReason}; the rollback failed too: ${reason}` };
  const plan = rollbackPlan(next, reason);
  if ('message' in plan) return { kind: 'failed', message: plan.message };
  return { kind: 'send', deployment: plan.deployment };
}

/**
 * CodeDeploy's automatic rollback: a new deployment of the last good revision to the hosts the failed
 * one touched, all of which must take it back. Without a last good revision, or with rollback off,
 * the deployment just fails.
 */
export function rollbackPlan(d: InPlaceDeployment, reason: string): { deployment: InPlaceDeployment } | { message: string } {
  if (!d.autoRollback) return { message: `${reason}; automatic rollback is off` };
  if (!d.lastGood) return { message: `${reason}; no earlier revision deployed successfully, so there is nothing to roll back to` };
  const touched = [...d.succeeded, ...d.failed.map((f) => f.host)].sort();
  // Every host touched must take the last good revision back, in batches no larger than the deploy's first.
  const rule: FleetRule = { minimumHealthy: Math.max(touched.length - (d.batches[0]?.length ?? 1), 0), minimumSuccessful: touched.length };
  const first = nextStep(rule, touched, { succeeded: 0, failed: 0 });
  return {
    deployment: {
      ...d,
      phase: 'rollback',
      revision: d.lastGood,
      rollbackReason: reason,
      hosts: touched,
      rule,
      batches: first.verdict === 'continue' ? [first.batch] : [],
      succeeded: [],
      failed: [],
    },
  };
}

/** How long one host may take for a whole lifecycle: every script's timeout, and a margin for download and copy. */
export function hostLifecycleSeconds(scriptTimeouts: readonly number[], marginSeconds = 600): number {
  return scriptTimeouts.reduce((sum, t) => sum + t, 0) + marginSeconds;
}
