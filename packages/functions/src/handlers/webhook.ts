/**
 * The webhook: a Lambda Function URL (or API Gateway HTTP API) that GitHub, GitLab and Bitbucket Cloud
 * post deliveries to. The host is told by its event header (`X-GitHub-Event`, `X-Gitlab-Event`,
 * `X-Event-Key`); each delivery is authenticated as its host documents (`X-Hub-Signature-256`,
 * `X-Gitlab-Token`, `X-Hub-Signature`) against that host's secret, push and pull/merge request events
 * are matched against every pipeline's triggers (core's `decideWebhook`), and the matching pipelines'
 * state machines are started.
 *
 * - Each execution is named from the delivery id (`X-GitHub-Delivery`, GitLab's `Idempotency-Key`,
 *   Bitbucket's `X-Request-UUID`), so a redelivery never starts a second run
 *   (see ../webhook/starter.ts); a tag starts from its `push` event only, never from `create`.
 * - Execution modes are the state machines' business: each begins with a gate Task that applies
 *   PARALLEL, QUEUED or SUPERSEDED, so this function only ever starts executions.
 * - GitHub gives a delivery 10 seconds: StartExecution calls run in parallel with short timeouts.
 *
 * Answers: 200 ping; 202 started, already started, skipped or ignored (the body says which, and why);
 * 400 malformed; 401 bad signature; 405 not POST; 503 Step Functions unavailable (redeliver: safe).
 *
 * Environment:
 * - `GITHUB_WEBHOOK_SECRET` — reference to the webhook secret (Secrets Manager or SSM, see ../secrets.ts);
 *   `GITLAB_WEBHOOK_SECRET`, `BITBUCKET_WEBHOOK_SECRET` the same for those hosts (a host without one
 *   is refused with 404)
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
import {
  decideWebhook,
  EnvVar,
  gitHubWebhook,
  readWebhookHeaders,
  WEBHOOK_PROVIDERS,
  WEBHOOK_SECRET_ENV,
  WebhookPayloadError,
  type WebhookProvider,
} from '@stepline/core';
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

  async function verified(provider: WebhookProvider, body: string, signature: string | undefined): Promise<boolean> {
    const variable = WEBHOOK_SECRET_ENV[provider.host];
    const reference = provider === gitHubWebhook ? requiredEnv(env, variable, 'a reference to the GitHub webhook secret') : optionalEnv(env, variable);
    if (reference === undefined) throw new HttpError(404, `this installation takes no ${provider.host} webhooks (${variable} is not set)`);
    if (await provider.verify(await deps.secrets.get(reference), body, signature)) return true;
    const rotated = await deps.secrets.refresh(reference, SECRET_RECHECK_MS);
    return rotated !== undefined && (await provider.verify(rotated, body, signature));
  }

  return async (event: unknown, context: Context): Promise<HttpResponse> => {
    const request = parseHttpEvent(event, MAX_BODY_BYTES);
    if (request.method !== 'POST') throw new HttpError(405, 'webhooks are POSTed');
    // The host is told by its own event header; GitHub when none is (GitHub's errors name its headers).
    const provider = WEBHOOK_PROVIDERS.find((p) => request.headers[p.eventHeader.toLowerCase()] !== undefined) ?? gitHubWebhook;
    const headers = readWebhookHeaders(provider, (name) => request.headers[name]);
    const deliveryId = headers.deliveryId;
    logger.appendKeys({ provider: provider.host, webhookEvent: headers.event, deliveryId });

    if (!(await verified(provider, request.body, headers.signature))) throw new HttpError(401, `${provider.signatureHeader} does not match the body`);

    const payload = parsePayload(request.body, request.headers['content-type']);
    const pipelines = await deps.pipelines().load();
    let decision: ReturnType<typeof decideWebhook>;
    try {
      decision = decideWebhook(provider, { event: headers.event, deliveryId, payload, pipelines });
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
      throw new HttpError(503, `could not start ${failed.join(', ')}; redeliver from ${provider.host} (a redelivery never starts a run twice)`, {
        expose: true,
      });
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
