/**
 * What a webhook delivery means, whichever git host sent it: answer a ping, ignore it (with a reason),
 * or start some pipelines, each with its execution name and input. Pure; the signature is checked
 * before this runs. The host is a parameter (`WebhookProvider`): GitHub, GitLab and Bitbucket differ
 * only in headers, authentication and payloads.
 *
 * - Executions are named from the delivery id (`executionName`), so a redelivery asks for the same
 *   name and never starts a second run.
 * - Execution modes (QUEUED, SUPERSEDED) are not decided here: every compiled state machine begins with a
 *   gate Task that applies the pipeline's mode, so starting the execution is all a webhook does.
 */
import { DefinitionError } from '../errors';
import { checkVariableOverrides, type ExecutionInput, executionName, TriggerType } from '../execution/input';
import type { Pipeline } from '../model/schema';
import { matchTriggers } from '../triggers/match';
import { WebhookPayloadError } from './payload';
import type { WebhookProvider } from './provider';

export interface WebhookStart {
  pipeline: string;
  executionName: string;
  input: ExecutionInput;
}

export type WebhookDecision =
  | { kind: 'pong' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'start'; starts: WebhookStart[]; skipped: Array<{ pipeline: string; reason: string }> };

export interface DecideWebhookArgs {
  /** The provider's event header (`X-GitHub-Event`, `X-Gitlab-Event`, `X-Event-Key`). */
  event: string | undefined;
  /** The provider's delivery id: the seed of every execution name this delivery starts. */
  deliveryId: string | undefined;
  /** The parsed JSON body. */
  payload: unknown;
  pipelines: readonly Pipeline[];
  /** Files a pull request changes, when the caller knows them; pushes list their own. */
  changedFiles?: readonly string[];
}

/**
 * Decides what a (signature-checked) delivery from `provider` does.
 * @throws WebhookPayloadError when a header is missing or the payload is not what its event says (answer 400)
 */
export function decideWebhook(provider: WebhookProvider, args: DecideWebhookArgs): WebhookDecision {
  const { event, deliveryId, payload, pipelines } = args;
  if (event === undefined || event === '') throw new WebhookPayloadError(`${provider.eventHeader} is missing`);
  const interpretation = provider.interpret(event, payload, args.changedFiles);
  if (interpretation.kind !== 'event') return interpretation;
  if (deliveryId === undefined || deliveryId.trim() === '') throw new WebhookPayloadError(`${provider.deliveryHeaders.join(' or ')} is missing`);
  const { event: gitEvent, revision, actor } = interpretation.parsed;

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
