/**
 * The canary function: target of every canary Task of a deploy action (`<Stage> · <Action> · run step`,
 * `· cleanup`, `· rollback`), and of the EventBridge rule on execution status changes, which rolls back
 * what a stopped or timed-out execution left in flight. See ../canary/index.ts and docs/canary.md.
 *
 * Environment: ARTIFACT_BUCKET (deployment records live under `_stepline/deployments/`),
 * STATE_MACHINE_PREFIX (state machines are named `<prefix><pipeline>`). Give the function the longest
 * timeout (15 minutes): prepare waits there for green's tasks and targets to be healthy.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import { EnvVar } from '@stepline/core';
import type { Context } from 'aws-lambda';
import { type AwsCanaryClients, type CanaryEventResult, dispatchCanaryEvent } from '../canary/index';
import { type Env, functionLogger, lazy, optionalEnv } from '../runtime';

/** Stop waiting this long before the function's own timeout, to answer with a clear error. */
const DEADLINE_MARGIN_MS = 20_000;

export interface CanaryHandlerOptions {
  clients: () => AwsCanaryClients;
  env: Env;
  logger: ReturnType<typeof functionLogger>;
  sleep?: (ms: number) => Promise<void>;
  /** @default 10000 */
  healthPollMs?: number;
}

/** The handler without middlewares, for tests that bring their own clients. */
export function createCanaryHandler(options: CanaryHandlerOptions) {
  const { logger } = options;
  return async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<CanaryEventResult> => {
    if (event && typeof event === 'object') {
      const e = event as Record<string, unknown>;
      for (const key of ['pipeline', 'stage', 'action', 'executionId', 'operation'] as const)
        if (typeof e[key] === 'string') logger.appendKeys({ [key]: e[key] });
    }
    const bucket = optionalEnv(options.env, EnvVar.ArtifactBucket);
    return dispatchCanaryEvent(event, {
      clients: options.clients(),
      stateMachinePrefix: optionalEnv(options.env, EnvVar.StateMachinePrefix) ?? '',
      ...(bucket && { bucket }),
      deadline: () => Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS,
      log: (message, fields) => logger.info(message, fields ?? {}),
      ...(options.sleep && { sleep: options.sleep }),
      ...(options.healthPollMs !== undefined && { healthPollMs: options.healthPollMs }),
      // ALB weights usually show within seconds; a minute covers a slow control plane.
      canary: { weightSettleMs: 60_000, weightPollMs: 2_000 },
    });
  };
}

const logger = functionLogger('canary');
const clients = lazy(
  (): AwsCanaryClients => ({
    // ModifyListener's rate limit is low: give throttling more room than the SDK's three tries.
    ecs: new ECSClient({ maxAttempts: 5 }),
    elb: new ElasticLoadBalancingV2Client({ maxAttempts: 5 }),
    cloudwatch: new CloudWatchClient({}),
    lambda: new LambdaClient({}),
    s3: new S3Client({}),
  }),
);

export const handler = middy(createCanaryHandler({ clients, env: process.env, logger }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use({
    onError: async (request) => {
      // The error's name is what the state machine's Retry and Catch match: log it, then let it fail the Task.
      logger.error('canary operation failed', request.error ?? 'unknown error');
    },
  });
