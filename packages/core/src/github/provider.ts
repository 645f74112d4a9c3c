import { GitHost } from '../triggers/match';
import { type DecideWebhookArgs, decideWebhook, type WebhookDecision } from '../webhooks/decide';
import type { WebhookProvider } from '../webhooks/provider';
import { parsePullRequestPayload, parsePushPayload } from './events';
import { verifyGitHubSignature } from './signature';

export const GitHubEvent = { Ping: 'ping', Push: 'push', PullRequest: 'pull_request', Create: 'create' } as const;

/**
 * GitHub webhooks (`X-Hub-Signature-256`, `X-GitHub-Delivery`).
 * - A tag push reaches GitHub's webhook twice: as a `push` of `refs/tags/<tag>` and as a `create` event
 *   with `ref_type: tag`, under two delivery ids. Only the push starts a run (it carries the commit);
 *   `create` is always ignored, so one tag never starts two runs.
 * - `pull_request` payloads carry no file list: file path filters are not applied to them unless the
 *   caller passes the files it knows (`changedFiles`), for example from `git diff base...head`.
 * @see https://docs.github.com/en/webhooks/webhook-events-and-payloads
 */
export const gitHubWebhook: WebhookProvider = {
  host: GitHost.GitHub,
  route: 'github',
  eventHeader: 'X-GitHub-Event',
  deliveryHeaders: ['X-GitHub-Delivery'],
  signatureHeader: 'X-Hub-Signature-256',
  verify: verifyGitHubSignature,
  interpret: (event, payload, changedFiles) => {
    if (event === GitHubEvent.Ping) return { kind: 'pong' };
    if (event === GitHubEvent.Create)
      return { kind: 'ignored', reason: 'create events start nothing: a pushed tag also arrives as a push event, which starts the run' };
    if (event === GitHubEvent.Push) return parsePushPayload(payload);
    if (event === GitHubEvent.PullRequest) return parsePullRequestPayload(payload, changedFiles);
    return { kind: 'ignored', reason: `${event} events start nothing` };
  },
};

/** `decideWebhook` for GitHub deliveries. */
export const decideGitHubWebhook = (args: DecideWebhookArgs): WebhookDecision => decideWebhook(gitHubWebhook, args);
