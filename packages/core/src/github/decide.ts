/**
 * What a GitHub webhook delivery means: answer a ping, ignore it (with a reason), or start some
 * pipelines, each with its execution name and input. Pure; the signature is checked before this runs.
 *
 * - Executions are named from `X-GitHub-Delivery` with `executionName`, so a redelivery asks for the
 *   same name and never starts a second run.
 * - A tag push reaches GitHub's webhook twice: as a `push` of `refs/tags/<tag>` and as a `create` event
 *   with `ref_type: tag`, under two delivery ids. Only the push starts a run (it carries the commit);
 *   `create` is always ignored, so one tag never starts two runs.
 * - `pull_request` payloads carry no file list: file path filters are not applied to them unless the
 *   caller passes the files it knows (`changedFiles`), for example from `git diff base...head`.
 * - Execution modes (QUEUED, SUPERSEDED) are not decided here: every compiled state machine begins with a
 *   gate Task that applies the pipeline's mode, so starting the execution is all a webhook does.
 * @see https://docs.github.com/en/webhooks/webhook-events-and-payloads
 */
import { DefinitionError } from '../errors';
import { checkVariableOverrides, type ExecutionInput, executionName, TriggerType } from '../execution/input';
import type { Pipeline } from '../model/schema';
import { matchTriggers } from '../triggers/match';
import { type ParsedPayload, parsePullRequestPayload, parsePushPayload, WebhookPayloadError } from './events';

export const GitHubEvent = { Ping: 'ping', Push: 'push', PullRequest: 'pull_request', Create: 'create' } as const;

export interface WebhookStart {
  pipeline: string;
  executionName: string;
  input: ExecutionInput;
}

export type WebhookDecision =
  | { kind: 'pong' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'start'; starts: WebhookStart[]; skipped: Array<{ pipeline: string; reason: string }> };

export interface DecideGitHubWebhookArgs {
  /** `X-GitHub-Event`. */
  event: string | undefined;
  /** `X-GitHub-Delivery`: the seed of every execution name this delivery starts. */
  deliveryId: string | undefined;
  /** The parsed JSON body. */
  payload: unknown;
  pipelines: readonly Pipeline[];
  /** Files a pull request changes, when the caller knows them; pushes list their own. */
  changedFiles?: readonly string[];
}

/**
 * Decides what a (signature-checked) delivery does.
 * @throws WebhookPayloadError when a header is missing or the payload is not what its event says (answer 400)
 */
export function decideGitHubWebhook(args: DecideGitHubWebhookArgs): WebhookDecision {
  const { event, deliveryId, payload, pipelines } = args;
  if (event === undefined || event === '') throw new WebhookPayloadError('X-GitHub-Event is missing');
  if (event === GitHubEvent.Ping) return { kind: 'pong' };
  if (event === GitHubEvent.Create)
    return { kind: 'ignored', reason: 'create events start nothing: a pushed tag also arrives as a push event, which starts the run' };
  if (event !== GitHubEvent.Push && event !== GitHubEvent.PullRequest) return { kind: 'ignored', reason: `${event} events start nothing` };
  if (deliveryId === undefined || deliveryId.trim() === '') throw new WebhookPayloadError('X-GitHub-Delivery is missing');

  const parsed: ParsedPayload = event === GitHubEvent.Push ? parsePushPayload(payload) : parsePullRequestPayload(payload, args.changedFiles);
  if (parsed.kind === 'ignored') return parsed;
  const { event: gitEvent, revision, actor } = parsed.parsed;

  const name = executionName(deliveryId);
  const starts: WebhookStart[] = [];
  const skipped: Array<{ pipeline: string; reason: string }> = [];
  for (const pipeline of pipelines) {
    const match = matchTriggers(pipeline, gitEvent);
    if (!match.matched) {
      skipped.push({ pipeline: pipeline.name, reason: match.reason });
      continue;
    }
    const variables = webhookVariables(pipeline);
    if (typeof variables === 'string') {
      skipped.push({ pipeline: pipeline.name, reason: variables });
      continue;
    }
    starts.push({
      pipeline: pipeline.name,
      executionName: name,
      input: {
        pipeline: pipeline.name,
        trigger: { type: TriggerType.Webhook, deliveryId, event, ...(actor !== undefined && { actor }) },
        source: revision,
        variables,
      },
    });
  }
  return { kind: 'start', starts, skipped };
}

/** A webhook gives no variable values, so every variable needs a default; the state machine merges them in. */
function webhookVariables(pipeline: Pipeline): Record<string, string> | string {
  try {
    return checkVariableOverrides(pipeline, {});
  } catch (error) {
    if (!(error instanceof DefinitionError)) throw error;
    const names = error.issues.map((i) => i.path.replace(/^variables\./, ''));
    return `variable${names.length > 1 ? 's' : ''} ${names.join(', ')} ${names.length > 1 ? 'have' : 'has'} no default, and a webhook gives no values`;
  }
}
