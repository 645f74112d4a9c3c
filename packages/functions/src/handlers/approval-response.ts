/**
 * The approval response function: the URL behind approve and reject links, and Slack's interactivity
 * Request URL.
 *
 * - `GET ?token=…` shows the approval (pipeline, commit, custom data, expiry) and a form with a comment
 *   box. Mail scanners prefetch links, so a GET never decides.
 * - `POST` (the form: `token`, `email`, `comment`) decides: SendTaskSuccess with
 *   `{approvedBy, comment, decidedAt}`, or SendTaskFailure `Stepline.ApprovalRejected`.
 * - `POST` from Slack (`X-Slack-Signature`) is a button click: verified with the Slack signing secret
 *   (timestamp within five minutes), then decided the same way; the Slack message is replaced with the
 *   outcome through the interaction's `response_url`.
 *
 * Expired, forged, reused, already decided or refused links get a page that says so and a 4xx; a 5xx only
 * means AWS itself failed (the decision, if taken, is delivered on the next use of a link).
 *
 * Identity: a web approver's e-mail is what they type; holding the link (sent to the approvals topic's
 * subscribers) is the credential. A Slack approver's user id is vouched for by Slack's signature.
 *
 * Environment:
 * - `LINK_SIGNING_KEY` — reference to the link-signing key (the approval request function's)
 * - `APPROVAL_BUCKET` (default `ARTIFACT_BUCKET`) — where approvals are kept
 * - `PUBLIC_URL` — this function's URL, where the form posts (default: the request's path)
 * - `SLACK_SIGNING_SECRET` — reference to the Slack app's signing secret; without it Slack requests are refused
 * @see https://api.slack.com/interactivity/handling
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import {
  APPROVAL_PAGE_HEADERS,
  type ApprovalPage,
  EnvVar,
  escapeHtml,
  parseSlackInteraction,
  readApprovalForm,
  renderApprovalPage,
  type SlackInteraction,
  slackDecisionMessage,
  verifySlackSignature,
} from '@stepline/core';
import { type ApprovalFunctionDependencies, approvalFunctionDependencies } from '../approvals/dependencies';
import { ApprovalDesk, formPage } from '../approvals/desk';
import { sfnClient } from '../aws';
import { HttpError } from '../errors';
import { type HttpRequest, type HttpResponse, html, httpErrors, json, parseHttpEvent } from '../http';
import { type Env, optionalEnv, requiredEnv } from '../runtime';
import { postToSlack } from '../slack';

/** Forms and Slack payloads are small; anything bigger is not ours. */
const MAX_BODY_BYTES = 64 * 1024;

export interface ApprovalResponseDependencies extends ApprovalFunctionDependencies {
  sfn: () => Promise<SFNClient>;
}

export function approvalResponseDependencies(env: Env = process.env): ApprovalResponseDependencies {
  return { ...approvalFunctionDependencies(env, 'approval-response'), sfn: sfnClient() };
}

const page = (p: ApprovalPage, status?: number): HttpResponse => {
  const rendered = renderApprovalPage(p);
  return html(status ?? rendered.status, rendered.html, APPROVAL_PAGE_HEADERS);
};

/** Pages for errors no outcome page covers (a broken request, AWS unavailable). */
const errorPage = (status: number, message: string): HttpResponse =>
  html(
    status,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>stepline</title></head><body><h1>${status >= 500 ? 'Try again' : 'Not possible'}</h1><p>${escapeHtml(message)}</p></body></html>`,
    APPROVAL_PAGE_HEADERS,
  );

export function createApprovalResponseHandler(deps: ApprovalResponseDependencies) {
  const { env, logger } = deps;

  async function desk(): Promise<ApprovalDesk> {
    const key = await deps.secrets.get(requiredEnv(env, EnvVar.LinkSigningKey, 'a reference to the approval link key'));
    return new ApprovalDesk({ store: deps.store(), sfn: deps.sfn, key, now: deps.now, logger });
  }

  async function web(request: HttpRequest): Promise<HttpResponse> {
    const postUrl = optionalEnv(env, EnvVar.PublicUrl) ?? '/';
    if (request.method === 'GET') {
      const token = request.query.get('token');
      const d = await desk();
      const opened = await d.open(token);
      if (!opened.ok) return page(opened.page);
      return page(await d.show(opened, token ?? '', postUrl));
    }
    if (!(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) throw new HttpError(415, 'expected a form');
    const form = new URLSearchParams(request.body);
    const token = form.get('token') ?? request.query.get('token');
    const d = await desk();
    const opened = await d.open(token);
    if (!opened.ok) return page(opened.page);
    const submitted = readApprovalForm(form, { emailRequired: (opened.record.approvers?.emailDomains?.length ?? 0) > 0 });
    if (!submitted.ok) return page({ ...formPage(opened, token ?? '', postUrl), error: submitted.error }, 400);
    const { email, comment } = submitted;
    return page(await d.decide(opened, { name: email ?? 'anonymous (approval link)', ...(email !== undefined && { email }) }, comment, 'web'));
  }

  async function slack(request: HttpRequest): Promise<HttpResponse> {
    const secretReference = optionalEnv(env, EnvVar.SlackSigningSecret);
    if (secretReference === undefined) throw new HttpError(401, 'Slack requests are not accepted here');
    const signingSecret = await deps.secrets.get(secretReference);
    const now = Math.floor(deps.now().getTime() / 1000);
    if (!verifySlackSignature(signingSecret, request.body, request.headers['x-slack-request-timestamp'], request.headers['x-slack-signature'], now))
      throw new HttpError(401, 'X-Slack-Signature does not match');
    const interaction = parseSlackInteraction(request.body);
    if (!interaction) throw new HttpError(400, 'not an approval button click');
    const d = await desk();
    const opened = await d.open(interaction.linkToken);
    const outcome = opened.ok
      ? await d.decide(
          opened,
          { name: `${interaction.userName ?? interaction.userId} (Slack ${interaction.userId})`, slackUserId: interaction.userId },
          '',
          'slack',
        )
      : opened.page;
    const text = slackOutcome(outcome, interaction);
    if (interaction.responseUrl !== undefined) {
      const final = outcome.kind === 'done' || outcome.kind === 'decided' || outcome.kind === 'closed';
      const message =
        final && opened.ok
          ? { replace_original: true, ...slackDecisionMessage(opened.record, text) }
          : { response_type: 'ephemeral', replace_original: false, text };
      await postToSlack(deps.fetch, interaction.responseUrl, message).catch((error: unknown) => logger.warn('updating the Slack message failed', { error }));
    }
    // Slack shows an error for anything but 200; the outcome travels in the message.
    return json(200, { text });
  }

  return async (event: unknown): Promise<HttpResponse> => {
    const request = parseHttpEvent(event, MAX_BODY_BYTES);
    if (request.method !== 'GET' && request.method !== 'POST') throw new HttpError(405, 'use GET to see an approval and POST to decide');
    if (request.method === 'POST' && request.headers['x-slack-signature'] !== undefined) return slack(request);
    return web(request);
  };
}

function slackOutcome(outcome: ApprovalPage, interaction: SlackInteraction): string {
  const who = `<@${interaction.userId}>`;
  switch (outcome.kind) {
    case 'done':
      return `${outcome.decision === 'approve' ? 'Approved' : 'Rejected'} by ${who}`;
    case 'decided':
      return `Already ${outcome.decided.decision === 'approve' ? 'approved' : 'rejected'} by ${outcome.decided.approvedBy} at ${outcome.decided.decidedAt}`;
    case 'closed':
      return 'The execution no longer waits for this approval';
    case 'expired':
      return 'This approval has expired';
    case 'not-allowed':
      return outcome.reason;
    case 'unknown':
      return 'This approval is not known here any more';
    default:
      return 'This button is not a valid approval link';
  }
}

export function makeApprovalResponseHandler(deps: ApprovalResponseDependencies) {
  return middy(createApprovalResponseHandler(deps))
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(httpErrors(deps.logger, errorPage));
}

export const handler = makeApprovalResponseHandler(approvalResponseDependencies());
