/**
 * The code-deploy function's two operations, core's in-place deployment (`startDeployment`,
 * `afterBatch`) behind S3 (revisions, appspec, last good revision) and the SSM fleet.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  type AppSpec,
  afterBatch,
  agentScript,
  currentBatch,
  DeploymentRolledBackError,
  deadlinePassed,
  ErrorName,
  hostLifecycleSeconds,
  type InPlaceDeployment,
  InPlaceDeploymentSchema,
  installPlan,
  LIFECYCLE_ORDER,
  lastGoodRevisionKey,
  parseAppSpec,
  type RevisionRef,
  SteplineError,
  startDeployment,
} from '@stepline/core';
import * as z from 'zod';
import { S3Artifact, splitLocation } from '../canary/artifact';
import { readJsonIfPresent } from '../s3-json';
import type { SsmFleet } from './ssm-fleet';

const text = z.string().min(1);
export const CodeDeployTaskSchema = z.object({
  pipeline: text,
  stage: text,
  action: text,
  executionId: text,
  operation: z.enum(['start', 'advance']),
  spec: z.object({
    applicationName: text,
    deploymentGroupName: text,
    appspec: text,
    minimumHealthyHosts: z.union([
      z.object({ type: z.enum(['HOST_COUNT', 'FLEET_PERCENT']), value: z.number().int().min(0) }),
      z.object({ type: z.literal('MOST_CONCURRENCY'), value: z.literal(1) }),
    ]),
    autoRollback: z.boolean(),
    pollSeconds: z.number().int().positive(),
    /** The whole deployment's limit, rollback included (the action's `timeoutMinutes`); absent from machines compiled before it was. */
    timeoutMinutes: z.number().positive().optional(),
    ec2: z.object({ tagFilters: z.array(z.object({ key: text, value: z.string() })), instanceIds: z.array(text) }).optional(),
  }),
  revision: z.object({ name: z.string(), location: text }),
  /** The deployment in flight, for advance. */
  // A deployment started before commands were chunked kept one `command`: it goes on after an upgrade.
  deployment: z
    .preprocess(
      (v) => (v && typeof v === 'object' && 'command' in v && !('commands' in v) ? { ...v, commands: [(v as { command: unknown }).command] } : v),
      InPlaceDeploymentSchema,
    )
    .optional(),
});
export type CodeDeployTask = z.output<typeof CodeDeployTaskSchema>;

/**
 * A deployment's id: one per action of an execution. Two codedeploy actions of one execution (Staging,
 * then Prod) must not find each other's SSM commands (the commands' markers are made from it); a
 * retried start Task must find its own. A stage run again in the same execution within the hour
 * SSM's commands are looked for in would still find the first run's: see docs/aws-functions.md.
 */
export function inPlaceDeploymentId(task: Pick<CodeDeployTask, 'executionId' | 'stage' | 'action'>): string {
  const which = createHash('sha256').update(`${task.stage}\n${task.action}`).digest('hex').slice(0, 10);
  return `d-${task.executionId.replace(/[^A-Za-z0-9-]/g, '-')}-${which}`;
}

export interface CodeDeployDependencies {
  s3: S3Client;
  fleet: SsmFleet;
  /** Where last good revisions are kept: the installation's artifact bucket. */
  bucket: string;
  log(message: string, fields?: Record<string, unknown>): void;
  /** The clock the deadline is read against. @default Date.now */
  now?: () => number;
}

export async function runCodeDeployTask(task: CodeDeployTask, deps: CodeDeployDependencies): Promise<InPlaceDeployment> {
  if (task.operation === 'start') return start(task, deps);
  if (!task.deployment) throw new SteplineError(ErrorName.DefinitionInvalid, 'advance needs the deployment in flight');
  return advance(task, task.deployment, deps);
}

async function start(task: CodeDeployTask, deps: CodeDeployDependencies): Promise<InPlaceDeployment> {
  if (!task.spec.ec2) throw new SteplineError(ErrorName.ActionFailed, `action ${task.action} names no EC2 instances (ec2.tagFilters or ec2.instanceIds)`);
  const hosts = await deps.fleet.instances(task.spec.ec2);
  if (hosts.length === 0)
    throw new SteplineError(
      ErrorName.ActionFailed,
      `no running instance matches ${task.spec.ec2.tagFilters.map((t) => `${t.key}=${t.value}`).join(' or ') || 'the instance ids'}`,
    );
  const lastGood = await readLastGood(task, deps);
  let deployment: InPlaceDeployment;
  try {
    deployment = startDeployment({
      deploymentId: inPlaceDeploymentId(task),
      revision: { location: task.revision.location, executionId: task.executionId },
      ...(lastGood && { lastGood }),
      autoRollback: task.spec.autoRollback,
      hosts,
      minimumHealthyHosts: task.spec.minimumHealthyHosts,
      pollSeconds: task.spec.pollSeconds,
      ...(task.spec.timeoutMinutes !== undefined && { limit: { startedAt: (deps.now ?? Date.now)(), timeoutMinutes: task.spec.timeoutMinutes } }),
    });
  } catch (error) {
    throw new SteplineError(ErrorName.ActionFailed, (error as Error).message, { cause: error });
  }
  deps.log('deploying', { hosts, batches: deployment.batches.length, lastGood: lastGood?.executionId });
  return send(task, deployment, deps);
}

async function advance(task: CodeDeployTask, deployment: InPlaceDeployment, deps: CodeDeployDependencies): Promise<InPlaceDeployment> {
  if (!deployment.commands) throw new SteplineError(ErrorName.DefinitionInvalid, 'the deployment in flight has no commands');
  const late = deadlinePassed(deployment, (deps.now ?? Date.now)());
  if (late) {
    // As CodeDeploy stops a deployment that ran out of time: the lifecycle still running on the batch ends.
    await deps.fleet.cancelCommands(deployment.commands);
    throw new SteplineError(ErrorName.ActionFailed, `${late}; the commands still running on ${currentBatch(deployment).join(', ')} were cancelled`);
  }
  const results = await deps.fleet.results(deployment.commands, currentBatch(deployment));
  if (results.some((r) => r.state === 'running')) return deployment;
  const next = afterBatch(
    deployment,
    results.map((r) => (r.state === 'done' ? { host: r.host, ok: r.ok, ...(r.reason && { reason: r.reason }) } : { host: r.host, ok: false })),
  );
  switch (next.kind) {
    case 'send':
      return send(task, next.deployment, deps);
    case 'succeeded':
      await writeLastGood(task, deps, next.deployment.revision);
      deps.log('deployed', { hosts: next.deployment.succeeded, failed: next.deployment.failed });
      return next.deployment;
    case 'failed':
    case 'rollbackFailed':
      throw new SteplineError(ErrorName.ActionFailed, next.message);
    case 'rolledBack':
      throw new DeploymentRolledBackError(next.message);
  }
}

/** Sends the lifecycle of the phase's revision to the batch in flight. */
async function send(task: CodeDeployTask, deployment: InPlaceDeployment, deps: CodeDeployDependencies): Promise<InPlaceDeployment> {
  const revision = deployment.revision;
  const artifact = new S3Artifact(deps.s3, task.revision.name, revision.location);
  const spec = await readAppSpec(artifact, task.spec.appspec);
  // The stop scripts of the last good revision; gone (expired artifacts) means none, as on a new instance.
  const previous = deployment.lastGood
    ? await readAppSpec(new S3Artifact(deps.s3, task.revision.name, deployment.lastGood.location), task.spec.appspec).catch(() => undefined)
    : undefined;
  const digests = await artifact.digests();
  let files: ReturnType<typeof installPlan>;
  try {
    files = installPlan(
      spec,
      digests.map((d) => d.path),
    );
  } catch (error) {
    throw new SteplineError(ErrorName.ActionFailed, `${task.spec.appspec}: ${(error as Error).message}`, { cause: error });
  }
  const deploymentId = deployment.phase === 'rollback' ? `${deployment.deploymentId}-rollback` : deployment.deploymentId;
  const { bucket, prefix } = splitLocation(revision.location);
  const script = agentScript({
    deploymentId,
    applicationName: task.spec.applicationName,
    deploymentGroupName: task.spec.deploymentGroupName,
    revisionUri: `s3://${bucket}/${prefix}`,
    spec,
    previous,
    files,
    digests,
  });
  const timeouts = LIFECYCLE_ORDER.flatMap((e) => [...(spec.hooks[e] ?? []), ...(previous?.hooks[e] ?? [])].map((s) => s.timeout));
  const hosts = currentBatch(deployment);
  const batch = deployment.batches.length;
  const { commandIds: commands, resent } = await deps.fleet.send(hosts, script, hostLifecycleSeconds(timeouts), {
    pipeline: task.pipeline,
    executionId: task.executionId,
    deploymentId,
    batch,
    label: `${task.pipeline} ${deploymentId} batch ${batch}`,
  });
  deps.log(resent ? 'batch sent' : 'batch sent by an earlier attempt', { phase: deployment.phase, batch, hosts, commands });
  return { ...deployment, commands };
}

async function readAppSpec(artifact: S3Artifact, path: string): Promise<AppSpec> {
  const text = await artifact.read(path);
  return parseAppSpec(text, path);
}

function readLastGood(task: CodeDeployTask, deps: CodeDeployDependencies): Promise<RevisionRef | undefined> {
  return readJsonIfPresent<RevisionRef>(deps.s3, deps.bucket, lastGoodRevisionKey(task.pipeline, task.stage, task.action));
}

async function writeLastGood(task: CodeDeployTask, deps: CodeDeployDependencies, revision: RevisionRef): Promise<void> {
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: lastGoodRevisionKey(task.pipeline, task.stage, task.action),
      Body: JSON.stringify(revision),
      ContentType: 'application/json',
    }),
  );
}
