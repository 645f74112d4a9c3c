/**
 * The approval request function: target of every manual approval Task
 * (`arn:aws:states:::lambda:invoke.waitForTaskToken`, see `compileApproval`). It keeps the task token in
 * S3 under an approval id, and sends the approver an approve link and a reject link (HMAC-signed, single
 * use, expiring with the approval's timeout) by SNS and, when configured, Slack. The Task then waits
 * until the approval response function answers the token.
 *
 * Retries: Step Functions retries the Task with the same token, so the approval id (derived from the
 * token) and the stored record are the same; the links are the same too. A retry may send the message
 * again (at least once), never a second approval.
 *
 * Environment:
 * - `LINK_SIGNING_KEY` — reference to the link-signing key (Secrets Manager or SSM; see ../secrets.ts)
 * - `APPROVAL_BUCKET` (default `ARTIFACT_BUCKET`) — where approvals are kept, under `_stepline/approvals/`
 * - `PUBLIC_URL` — the approval response function's URL (its Function URL)
 * - `APPROVAL_TOPIC_ARN` — SNS topic for approvals that name none (`notificationArn`); optional
 * - `SLACK_WEBHOOK_URL` — reference to a Slack incoming webhook URL; optional
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-json-format.html
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import {
  type ApprovalRecord,
  ApprovalRequestSchema,
  approvalIdFor,
  approvalNotification,
  approvalRecord,
  EnvVar,
  ErrorName,
  SteplineError,
  slackApprovalMessage,
} from '@stepline/core';
import { type ApprovalFunctionDependencies, approvalFunctionDependencies } from '../approvals/dependencies';
import { approvalLinks } from '../approvals/links';
import { publishNotification } from '../approvals/sns';
import { snsClient } from '../aws';
import { type Env, optionalEnv, requiredEnv } from '../runtime';
import { postToSlack } from '../slack';

export interface ApprovalRequestDependencies extends ApprovalFunctionDependencies {
  sns: () => Promise<SNSClient>;
}

export function approvalRequestDependencies(env: Env = process.env): ApprovalRequestDependencies {
  return { ...approvalFunctionDependencies(env, 'approval-request'), sns: snsClient() };
}

export interface ApprovalRequestResult {
  approvalId: string;
  expiresAt: string;
  notified: string[];
}

export function createApprovalRequestHandler(deps: ApprovalRequestDependencies) {
  const { env, logger } = deps;
  return async (event: unknown): Promise<ApprovalRequestResult> => {
    const parsed = ApprovalRequestSchema.safeParse(event);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SteplineError(ErrorName.ActionFailed, `not an approval request: ${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`);
    }
    const request = parsed.data;
    const key = await deps.secrets.get(requiredEnv(env, EnvVar.LinkSigningKey, 'a reference to the approval link key'));
    const publicUrl = requiredEnv(env, EnvVar.PublicUrl, 'the approval response URL');
    const approvalId = approvalIdFor(key, request.taskToken);
    logger.appendKeys({ pipeline: request.pipeline, stage: request.stage, action: request.action, executionId: request.executionId, approvalId });

    const fresh = approvalRecord(request, approvalId, deps.now());
    const store = deps.store();
    let record: ApprovalRecord = fresh;
    if ((await store.putRequest(fresh)) === 'exists') {
      record = (await store.getRequest(approvalId)) ?? fresh;
      logger.info('approval already stored: a retried request; sending its links again');
    }

    const links = approvalLinks(key, record, publicUrl);
    const { taskToken: _token, ...view } = record;
    const topicArn = request.notificationArn ?? optionalEnv(env, EnvVar.ApprovalTopicArn);
    const slackReference = optionalEnv(env, EnvVar.SlackWebhookUrl);
    const channels: Array<{ name: string; send: () => Promise<unknown> }> = [];
    if (topicArn !== undefined)
      channels.push({
        name: 'sns',
        send: async () => publishNotification(await deps.sns(), topicArn, approvalNotification(view, links, optionalEnv(env, 'AWS_REGION'))),
      });
    if (slackReference !== undefined)
      channels.push({ name: 'slack', send: async () => postToSlack(deps.fetch, await deps.secrets.get(slackReference), slackApprovalMessage(view, links)) });
    if (channels.length === 0) logger.warn('no SNS topic and no Slack webhook configured: nobody is told about this approval');

    const results = await Promise.allSettled(channels.map((c) => c.send()));
    const notified: string[] = [];
    results.forEach((result, i) => {
      const name = channels[i]?.name ?? '';
      if (result.status === 'fulfilled') notified.push(name);
      else logger.error('approval notification failed', { channel: name, error: result.reason });
    });
    if (channels.length > 0 && notified.length === 0) throw new SteplineError(ErrorName.Transient, 'the approval request could not be sent to any channel');
    logger.info('approval requested', { expiresAt: new Date(record.expiresAt * 1000).toISOString(), notified });
    return { approvalId, expiresAt: new Date(record.expiresAt * 1000).toISOString(), notified };
  };
}

export function makeApprovalRequestHandler(deps: ApprovalRequestDependencies) {
  return middy(createApprovalRequestHandler(deps)).use(injectLambdaContext(deps.logger, { resetKeys: true }));
}

export const handler = makeApprovalRequestHandler(approvalRequestDependencies());
