/**
 * The canary on AWS: core's step logic (`runCanaryOperation`) behind ECS task sets and ALB weights (or
 * a Lambda alias's versions and routing weights), CloudWatch alarms, Lambda hooks and S3 deployment records. `dispatchCanaryEvent` is what the Lambda
 * runs for each event: a canary Task's payload, an explicit abort, or EventBridge's "Step Functions
 * Execution Status Change" for an execution that ended without running its Catch (stopped, timed out).
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  ABORT_EXECUTION_OPERATION,
  type AbortRequest,
  abortExecution,
  type CanaryOptions,
  type CanaryPorts,
  type CanaryRequest,
  type CanaryResult,
  parseAbortRequest,
  parseCanaryRequest,
  runCanaryOperation,
} from '@stepline/core';
import * as z from 'zod';
import { pipelineOf } from '../gates/events';
import { AlbRouter } from './alb';
import { ArtifactSet, S3Artifact, splitLocation } from './artifact';
import { CloudWatchAlarms } from './cloudwatch';
import { EcsBlueGreen } from './ecs';
import { LambdaHooks } from './hooks';
import { LambdaAliasEnvironment, LambdaAliasRouter, withLambdaAppSpec } from './lambda-alias';
import type { RetryOptions } from './retry';
import { S3DeploymentRecords } from './s3-records';

export { AlbRouter, greenShare, type TargetGroupRoles, withWeights } from './alb';
export { S3Artifact, splitLocation } from './artifact';
export { CloudWatchAlarms } from './cloudwatch';
export { deploymentId, EcsBlueGreen, type EcsTarget, type EcsView, ecsTarget, Tag } from './ecs';
export { type HookEvent, hookExecutionId, LambdaHooks } from './hooks';
export {
  type AliasView,
  aliasShare,
  LambdaAliasEnvironment,
  LambdaAliasRouter,
  type LambdaTarget,
  lambdaTarget,
  parseMarker,
  withLambdaAppSpec,
} from './lambda-alias';
export { isTransientAwsError, type RetryOptions, retryTransient } from './retry';
export { DEPLOYMENTS_PREFIX, S3DeploymentRecords } from './s3-records';

export interface AwsCanaryClients {
  ecs: ECSClient;
  elb: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  lambda: LambdaClient;
  s3: S3Client;
}

export interface AwsCanaryOptions {
  /** Bucket of the deployment records; the input artifact's bucket when absent. */
  bucket?: string;
  /** When a health wait must give up (epoch ms): before the Lambda's own timeout. */
  deadline(): number;
  log(message: string, fields?: Record<string, unknown>): void;
  /** @default 10000 */
  healthPollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  retry?: RetryOptions;
  now?: () => Date;
}

/** The deploy action's input artifacts, searched in its order for each file. */
const inputArtifacts = (request: CanaryRequest, s3: S3Client, retry: RetryOptions) =>
  new ArtifactSet([request.inputArtifact, ...(request.otherInputArtifacts ?? [])].map((a) => new S3Artifact(s3, a.name, a.location, retry)));

/** The canary ports for one request, on AWS: an ECS service behind an ALB, or a Lambda alias. */
export function createAwsCanaryPorts(request: CanaryRequest, clients: AwsCanaryClients, options: AwsCanaryOptions): CanaryPorts {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const retry: RetryOptions = { sleep, ...options.retry };
  const bucket = options.bucket ?? splitLocation(request.inputArtifact.location).bucket;
  const shared = {
    alarms: new CloudWatchAlarms(clients.cloudwatch, request.deployment.alarms, retry),
    records: new S3DeploymentRecords(clients.s3, bucket, retry),
    now: options.now ?? (() => new Date()),
    sleep,
    log: options.log,
  };
  if (request.deployment.lambda) {
    const environment = new LambdaAliasEnvironment({
      lambda: clients.lambda,
      request,
      deadline: options.deadline,
      sleep,
      retry,
      log: (m) => options.log(m),
      ...(options.healthPollMs !== undefined && { healthPollMs: options.healthPollMs }),
    });
    return { ...shared, environment, router: new LambdaAliasRouter(environment), hooks: new LambdaHooks(clients.lambda, request, environment.id, retry) };
  }
  const environment = new EcsBlueGreen({
    ecs: clients.ecs,
    elb: clients.elb,
    request,
    artifact: inputArtifacts(request, clients.s3, retry),
    deadline: options.deadline,
    sleep,
    retry,
    log: (m) => options.log(m),
    ...(options.healthPollMs !== undefined && { healthPollMs: options.healthPollMs }),
  });
  return {
    environment,
    router: new AlbRouter({
      elb: clients.elb,
      target: environment.target,
      roles: async () => {
        const v = await environment.view();
        return { blueTargetGroup: v.blueTargetGroup, greenTargetGroup: v.greenTargetGroup };
      },
      retry,
    }),
    hooks: new LambdaHooks(clients.lambda, request, environment.id, retry),
    ...shared,
  };
}

const StatusChangeSchema = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({ name: z.string().min(1), stateMachineArn: z.string(), status: z.string(), input: z.string().nullish() }),
});

/** Execution statuses after which a deployment still in flight must be rolled back. */
const ENDED_WITHOUT_SUCCESS = ['ABORTED', 'TIMED_OUT', 'FAILED'];

export interface DispatchOptions extends AwsCanaryOptions {
  clients: AwsCanaryClients;
  /** State machines are named `<prefix><pipeline>` (to find the pipeline of a status change). */
  stateMachinePrefix: string;
  canary?: CanaryOptions;
}

export type CanaryEventResult = CanaryResult | { aborted: CanaryResult[] } | { ignored: string };

/** Runs one event of the canary function. */
export async function dispatchCanaryEvent(event: unknown, options: DispatchOptions): Promise<CanaryEventResult> {
  const change = StatusChangeSchema.safeParse(event);
  if (change.success) {
    const { detail } = change.data;
    if (!ENDED_WITHOUT_SUCCESS.includes(detail.status)) return { ignored: `status ${detail.status} leaves deployments as they are` };
    const pipeline = pipelineOf(detail, options.stateMachinePrefix);
    if (pipeline === undefined) return { ignored: `state machine ${detail.stateMachineArn} is not a stepline pipeline` };
    return abort({ operation: ABORT_EXECUTION_OPERATION, pipeline, executionId: detail.name, reason: `the execution ended ${detail.status}` }, options);
  }
  if (event && typeof event === 'object' && 'operation' in event && event.operation === ABORT_EXECUTION_OPERATION)
    return abort(parseAbortRequest(event), options);
  const request = await resolve(parseCanaryRequest(event), options);
  return runCanaryOperation(request, createAwsCanaryPorts(request, options.clients, options), options.canary);
}

/** A request with what its input artifact says filled in: a Lambda deployment's appspec. */
function resolve(request: CanaryRequest, options: DispatchOptions): Promise<CanaryRequest> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  return withLambdaAppSpec(request, inputArtifacts(request, options.clients.s3, { sleep, ...options.retry }));
}

async function abort(request: AbortRequest, options: DispatchOptions): Promise<CanaryEventResult> {
  const bucket = request.bucket ?? options.bucket;
  if (!bucket) throw new TypeError('abortExecution needs the bucket of the deployment records (ARTIFACT_BUCKET)');
  const records = new S3DeploymentRecords(options.clients.s3, bucket, { ...(options.sleep && { sleep: options.sleep }), ...options.retry });
  const aborted = await abortExecution(request, records, async (rollback) => {
    const resolved = await resolve(rollback, options);
    return runCanaryOperation(resolved, createAwsCanaryPorts(resolved, options.clients, { ...options, bucket }), options.canary);
  });
  for (const r of aborted) options.log(`execution ${request.executionId} ended: ${r.message}`);
  return { aborted };
}
