/**
 * The notification function: target of an EventBridge rule on "Step Functions Execution Status Change"
 * for the installation's state machines. It tells the notification topic and Slack what happened: the
 * pipeline, the commit, the stage and action that failed, and a link to the execution.
 *
 * When the event leaves the input or the failure out (inputs over 248 KB are not included), they are read
 * with DescribeExecution. EventBridge retries the invocation when every configured channel failed.
 *
 * Environment:
 * - `NOTIFICATION_TOPIC_ARN` — SNS topic for execution notices; optional
 * - `SLACK_WEBHOOK_URL` — reference to a Slack incoming webhook URL (see ../secrets.ts); optional
 * - `NOTIFY_STATUSES` — comma-separated statuses to tell (default `FAILED,TIMED_OUT,ABORTED,SUCCEEDED`;
 *   add `SUPERSEDED` for executions a newer one replaced, `RUNNING` for starts)
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html#cw-events-events
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import { EnvVar, ErrorName, type ExecutionInput, ExecutionInputSchema, SteplineError } from '@stepline/core';
import * as z from 'zod';
import { secretCache, sfnClient, snsClient } from '../aws';
import { type ExecutionChange, executionNotice, noticeSlack, noticeText } from '../notify/message';
import { type Env, functionLogger, optionalEnv } from '../runtime';
import type { SecretSource } from '../secrets';
import { type Fetch, postToSlack } from '../slack';

const StatusChangeSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string(),
    stateMachineArn: z.string(),
    name: z.string(),
    status: z.string(),
    startDate: z.number().nullish(),
    stopDate: z.number().nullish(),
    input: z.string().nullish(),
    inputDetails: z.object({ included: z.boolean().optional() }).nullish(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});

const DEFAULT_STATUSES = 'FAILED,TIMED_OUT,ABORTED,SUCCEEDED';

export interface NotifyDependencies {
  env: Env;
  sfn: () => Promise<SFNClient>;
  sns: () => Promise<SNSClient>;
  secrets: SecretSource;
  fetch: Fetch;
  logger: Logger;
}

export function notifyDependencies(env: Env = process.env): NotifyDependencies {
  return {
    env,
    sfn: sfnClient(),
    sns: snsClient(),
    secrets: secretCache(),
    fetch: (...args) => fetch(...args),
    logger: functionLogger('notify'),
  };
}

export type NotifyResult = { notified: string[] } | { skipped: string };

export function createNotifyHandler(deps: NotifyDependencies) {
  const { env, logger } = deps;
  const statuses = new Set((optionalEnv(env, 'NOTIFY_STATUSES') ?? DEFAULT_STATUSES).split(',').map((s) => s.trim().toUpperCase()));

  function parseInput(text: string | null | undefined): ExecutionInput | undefined {
    if (!text) return undefined;
    try {
      const parsed = ExecutionInputSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  return async (event: unknown): Promise<NotifyResult> => {
    const parsed = StatusChangeSchema.safeParse(event);
    if (!parsed.success) {
      logger.warn('not a Step Functions execution status change; ignored');
      return { skipped: 'not a Step Functions execution status change' };
    }
    const detail = parsed.data.detail;
    logger.appendKeys({ executionArn: detail.executionArn, status: detail.status });
    const change: ExecutionChange = { ...detail };
    let input = parseInput(detail.input);
    const failed = detail.status !== 'RUNNING' && detail.status !== 'SUCCEEDED';
    if (input === undefined || (failed && !detail.cause)) {
      try {
        const { DescribeExecutionCommand } = await import('@aws-sdk/client-sfn');
        const described = await (await deps.sfn()).send(new DescribeExecutionCommand({ executionArn: detail.executionArn }));
        input ??= parseInput(described.input);
        change.error ??= described.error;
        change.cause ??= described.cause;
      } catch (error) {
        logger.warn('DescribeExecution failed; notifying with what the event holds', { error });
      }
    }
    const notice = executionNotice(change, input);
    if (!statuses.has(notice.status)) return { skipped: `status ${notice.status} is not in NOTIFY_STATUSES` };

    const channels: Array<{ name: string; send: () => Promise<unknown> }> = [];
    const topicArn = optionalEnv(env, EnvVar.NotificationTopicArn);
    const slackReference = optionalEnv(env, EnvVar.SlackWebhookUrl);
    if (topicArn !== undefined) {
      const { subject, text } = noticeText(notice);
      channels.push({
        name: 'sns',
        send: async () =>
          (await deps.sns()).send(
            new (await import('@aws-sdk/client-sns')).PublishCommand({
              TopicArn: topicArn,
              Subject: subject,
              MessageStructure: 'json',
              Message: JSON.stringify({ default: JSON.stringify(notice), email: text }),
            }),
          ),
      });
    }
    if (slackReference !== undefined)
      channels.push({ name: 'slack', send: async () => postToSlack(deps.fetch, await deps.secrets.get(slackReference), noticeSlack(notice)) });
    if (channels.length === 0) return { skipped: 'no NOTIFICATION_TOPIC_ARN and no SLACK_WEBHOOK_URL configured' };

    const results = await Promise.allSettled(channels.map((c) => c.send()));
    const notified = channels.filter((_, i) => results[i]?.status === 'fulfilled').map((c) => c.name);
    results.forEach((r, i) => {
      if (r.status === 'rejected') logger.error('notification failed', { channel: channels[i]?.name, error: r.reason });
    });
    if (notified.length === 0) throw new SteplineError(ErrorName.Transient, 'the notification could not be sent to any channel');
    logger.info('execution notified', { pipeline: notice.pipeline, notified });
    return { notified };
  };
}

export function makeNotifyHandler(deps: NotifyDependencies) {
  return middy(createNotifyHandler(deps)).use(injectLambdaContext(deps.logger, { resetKeys: true }));
}

export const handler = makeNotifyHandler(notifyDependencies());
