/**
 * The GitHub webhook: a Lambda Function URL (or API Gateway HTTP API) that GitHub posts deliveries to.
 * It checks `X-Hub-Signature-256`, answers `ping`, matches push and pull request events against every
 * pipeline's triggers (core's `decideGitHubWebhook`) and starts the matching pipelines' state machines.
 *
 * - Each execution is named from `X-GitHub-Delivery`, so a redelivery never starts a second run
 *   (see ../webhook/starter.ts); a tag starts from its `push` event only, never from `create`.
 * - Execution modes are the state machines' business: each begins with a gate Task that applies
 *   PARALLEL, QUEUED or SUPERSEDED, so this function only ever starts executions.
 * - GitHub gives a delivery 10 seconds: StartExecution calls run in parallel with short timeouts.
 *
 * Answers: 200 ping; 202 started, already started, skipped or ignored (the body says which, and why);
 * 400 malformed; 401 bad signature; 405 not POST; 503 Step Functions unavailable (redeliver: safe).
 *
 * Environment:
 * - `GITHUB_WEBHOOK_SECRET` — reference to the webhook secret (Secrets Manager or SSM, see ../secrets.ts)
 * - `PIPELINES` — the pipeline definitions: a JSON array, or `s3://bucket/key` of one
 * - `STATE_MACHINE_ARNS` — JSON map of pipeline name → state machine ARN, and/or
 *   `STATE_MACHINE_PREFIX` — state machines are named `<prefix><pipeline>` in this account and region
 * - `SECRET_CACHE_SECONDS` (default 300), `PIPELINES_CACHE_SECONDS` (default 60)
 * @see https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import { decideGitHubWebhook, EnvVar, verifyGitHubSignature, WebhookPayloadError } from '@stepline/core';
import type { Context } from 'aws-lambda';
import { s3Client, secretCache, sfnClient } from '../aws';
import { HttpError } from '../errors';
import { type HttpResponse, httpErrors, json, parseHttpEvent } from '../http';
import { type Env, functionAccount, functionLogger, lazy, optionalEnv, requiredEnv } from '../runtime';
import type { SecretSource } from '../secrets';
import { PipelineSource } from '../webhook/pipelines';
import { type StartOutcome, StateMachines, startOnce } from '../webhook/starter';

/** GitHub caps payloads at 25 MB; Function URLs at 6 MB. */
const MAX_BODY_BYTES = 6 * 1024 * 1024;
/** A secret younger than this is not read again after a signature mismatch (rotation, not every forgery). */
const SECRET_RECHECK_MS = 60_000;

export interface WebhookDependencies {
  env: Env;
  sfn: () => Promise<SFNClient>;
  secrets: SecretSource;
  pipelines: () => PipelineSource;
  logger: Logger;
}

export function webhookDependencies(env: Env = process.env): WebhookDependencies {
  const s3 = s3Client();
  return {
    env,
    // GitHub waits 10 s for the whole answer: fail fast and let GitHub's redelivery (same names) retry.
    sfn: sfnClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 2500 } }),
    secrets: secretCache(Number(optionalEnv(env, 'SECRET_CACHE_SECONDS') ?? 300) * 1000),
    pipelines: lazy(
      () =>
        new PipelineSource({
          setting: requiredEnv(env, EnvVar.Pipelines, 'the pipeline definitions, as JSON or s3://bucket/key'),
          s3,
          ttlMs: Number(optionalEnv(env, 'PIPELINES_CACHE_SECONDS') ?? 60) * 1000,
        }),
    ),
    logger: functionLogger('webhook'),
  };
}

export function createWebhookHandler(deps: WebhookDependencies) {
  const { env, logger } = deps;
  let machines: StateMachines | undefined;

  async function verified(body: string, signature: string | undefined): Promise<boolean> {
    const reference = requiredEnv(env, EnvVar.GithubWebhookSecret, 'a reference to the GitHub webhook secret');
    if (await verifyGitHubSignature(await deps.secrets.get(reference), body, signature)) return true;
    const rotated = await deps.secrets.refresh(reference, SECRET_RECHECK_MS);
    return rotated !== undefined && (await verifyGitHubSignature(rotated, body, signature));
  }

  return async (event: unknown, context: Context): Promise<HttpResponse> => {
    const request = parseHttpEvent(event, MAX_BODY_BYTES);
    if (request.method !== 'POST') throw new HttpError(405, 'GitHub webhooks are POSTed');
    const githubEvent = request.headers['x-github-event'];
    const deliveryId = request.headers['x-github-delivery'];
    logger.appendKeys({ githubEvent, deliveryId });

    if (!(await verified(request.body, request.headers['x-hub-signature-256']))) throw new HttpError(401, 'X-Hub-Signature-256 does not match the body');

    const payload = parsePayload(request.body, request.headers['content-type']);
    const pipelines = await deps.pipelines().load();
    let decision: ReturnType<typeof decideGitHubWebhook>;
    try {
      decision = decideGitHubWebhook({ event: githubEvent, deliveryId, payload, pipelines });
    } catch (error) {
      if (error instanceof WebhookPayloadError) throw new HttpError(400, error.message, { cause: error });
      throw error;
    }

    if (decision.kind === 'pong') {
      logger.info('ping answered');
      return json(200, { pong: true });
    }
    if (decision.kind === 'ignored') {
      logger.info('delivery ignored', { reason: decision.reason });
      return json(202, { ignored: decision.reason });
    }

    machines ??= StateMachines.fromSettings(
      optionalEnv(env, EnvVar.StateMachineArns),
      optionalEnv(env, EnvVar.StateMachinePrefix),
      functionAccount(context?.invokedFunctionArn),
    );
    const skipped = [...decision.skipped];
    const starts = decision.starts.flatMap((start) => {
      const arn = machines?.arnOf(start.pipeline);
      if (arn === undefined) {
        logger.error('no state machine for pipeline', { pipeline: start.pipeline });
        skipped.push({ pipeline: start.pipeline, reason: 'no state machine is configured for it (STATE_MACHINE_ARNS)' });
        return [];
      }
      return [{ start, arn }];
    });
    for (const s of skipped) logger.info('pipeline skipped', { pipeline: s.pipeline, reason: s.reason });

    const sfn = starts.length > 0 ? await deps.sfn() : undefined;
    const results = sfn ? await Promise.allSettled(starts.map(({ start, arn }) => startOnce(sfn, arn, start))) : [];
    const outcomes: StartOutcome[] = [];
    const failed: string[] = [];
    results.forEach((result, i) => {
      const pipeline = starts[i]?.start.pipeline ?? '';
      if (result.status === 'fulfilled') {
        outcomes.push(result.value);
        if (result.value.status === 'started') logger.info('execution started', { pipeline, executionArn: result.value.executionArn });
        else logger.info('execution already started', { pipeline, executionArn: result.value.executionArn, sameInput: result.value.sameInput });
      } else {
        failed.push(pipeline);
        logger.error('StartExecution failed', { pipeline, error: result.reason });
      }
    });
    if (failed.length > 0)
      throw new HttpError(503, `could not start ${failed.join(', ')}; redeliver from GitHub (a redelivery never starts a run twice)`, { expose: true });
    return json(202, { executions: outcomes, skipped });
  };
}

/** GitHub sends JSON, or with content type `application/x-www-form-urlencoded` the JSON in `payload`. */
function parsePayload(body: string, contentType: string | undefined): unknown {
  const text = contentType?.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body).get('payload') : body;
  if (text === null || text === '') throw new HttpError(400, 'the body holds no payload');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the payload is not JSON');
  }
}

export function makeWebhookHandler(deps: WebhookDependencies) {
  return middy(createWebhookHandler(deps))
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(httpErrors(deps.logger));
}

export const handler = makeWebhookHandler(webhookDependencies());
