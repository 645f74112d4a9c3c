/**
 * Bitbucket Cloud webhooks: the HMAC signature, and the `repo:push` and pull request events.
 *
 * - A webhook with a secret signs the raw body with HMAC-SHA256 and sends `X-Hub-Signature:
 *   sha256=<hex>` (GitHub's format under GitHub's older header name).
 * - A delivery is named by `X-Request-UUID`; Bitbucket's retries of a delivery count up
 *   `X-Attempt-Number` under the same request.
 * - One push may change several refs (`push.changes[]`); each change names its new branch or tag and the
 *   commit it points at. A push that changes more than one ref starts from the first change that is
 *   not a deletion, and says so. Bitbucket lists no changed files, so path filters are not applied.
 * - `pullrequest:created` → OPEN, `pullrequest:updated` → UPDATED, `pullrequest:fulfilled` (merged) and
 *   `pullrequest:rejected` (declined) → CLOSED.
 * @see https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
 * @see https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/
 */
import * as z from 'zod';
import { verifyGitHubSignature } from '../github/signature';
import { GitHost, PullRequestAction } from '../triggers/match';
import { type ParsedPayload, parsePayload } from './payload';
import type { WebhookProvider } from './provider';

export const BitbucketEvent = {
  Push: 'repo:push',
  PullRequestCreated: 'pullrequest:created',
  PullRequestUpdated: 'pullrequest:updated',
  PullRequestFulfilled: 'pullrequest:fulfilled',
  PullRequestRejected: 'pullrequest:rejected',
} as const;

const PULL_REQUEST_EVENTS: Record<string, PullRequestAction> = {
  [BitbucketEvent.PullRequestCreated]: PullRequestAction.Open,
  [BitbucketEvent.PullRequestUpdated]: PullRequestAction.Updated,
  [BitbucketEvent.PullRequestFulfilled]: PullRequestAction.Closed,
  [BitbucketEvent.PullRequestRejected]: PullRequestAction.Closed,
};

const Repository = z.object({ full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/, { error: 'expected workspace/repo' }) });
const Actor = z.object({ nickname: z.string().optional(), display_name: z.string().optional() });
const Target = z.object({
  hash: z.string().min(1),
  message: z.string().optional(),
  date: z.string().optional(),
  author: z.object({ raw: z.string().optional(), user: Actor.optional() }).optional(),
});
const Ref = z.object({ type: z.string(), name: z.string().min(1), target: Target });

const PushPayload = z.object({
  actor: Actor.optional(),
  repository: Repository,
  push: z.object({ changes: z.array(z.object({ new: Ref.nullish(), old: Ref.nullish(), closed: z.boolean().optional() })) }),
});

const PullRequestPayload = z.object({
  actor: Actor.optional(),
  repository: Repository,
  pullrequest: z.object({
    id: z.number().int(),
    source: z.object({ branch: z.object({ name: z.string().min(1) }), commit: z.object({ hash: z.string().min(1) }) }),
    destination: z.object({ branch: z.object({ name: z.string().min(1) }) }),
  }),
});

const actorName = (actor: z.infer<typeof Actor> | undefined) => actor?.nickname ?? actor?.display_name;
/** `Ada Lovelace <ada@example.com>` → `Ada Lovelace`. */
const authorName = (raw: string | undefined) => raw?.replace(/\s*<[^>]*>\s*$/, '');

function parsePush(payload: unknown): ParsedPayload {
  const body = parsePayload(PushPayload, payload, BitbucketEvent.Push);
  const repository = body.repository.full_name;
  const change = body.push.changes.find((c) => c.new != null);
  const ref = change?.new;
  if (!ref) return { kind: 'ignored', reason: 'the push only deletes branches or tags' };
  if (ref.type !== 'branch' && ref.type !== 'tag') return { kind: 'ignored', reason: `ref type ${ref.type} is neither a branch nor a tag` };
  const branch = ref.type === 'branch' ? ref.name : undefined;
  const tag = ref.type === 'tag' ? ref.name : undefined;
  const author = authorName(ref.target.author?.raw) ?? actorName(ref.target.author?.user);
  return {
    kind: 'event',
    parsed: {
      event: { kind: 'push', provider: GitHost.Bitbucket, repository, ...(branch !== undefined && { branch }), ...(tag !== undefined && { tag }) },
      revision: {
        repository,
        commitId: ref.target.hash,
        ...(branch !== undefined && { branchName: branch }),
        ...(tag !== undefined && { tag }),
        ...(ref.target.message !== undefined && { commitMessage: ref.target.message }),
        ...(author !== undefined && { authorName: author }),
        ...(ref.target.date !== undefined && { authorDate: ref.target.date }),
      },
      actor: actorName(body.actor),
    },
  };
}

function parsePullRequest(payload: unknown, event: string, action: PullRequestAction): ParsedPayload {
  const body = parsePayload(PullRequestPayload, payload, event);
  const repository = body.repository.full_name;
  const pr = body.pullrequest;
  return {
    kind: 'event',
    parsed: {
      event: {
        kind: 'pull_request',
        provider: GitHost.Bitbucket,
        repository,
        branch: pr.source.branch.name,
        baseBranch: pr.destination.branch.name,
        pullRequestAction: action,
      },
      revision: { repository, commitId: pr.source.commit.hash, branchName: pr.source.branch.name, pullRequest: pr.id },
      actor: actorName(body.actor),
    },
  };
}

export const bitbucketWebhook: WebhookProvider = {
  host: GitHost.Bitbucket,
  route: 'bitbucket',
  eventHeader: 'X-Event-Key',
  deliveryHeaders: ['X-Request-UUID'],
  signatureHeader: 'X-Hub-Signature',
  // The same HMAC-SHA256 `sha256=<hex>` as GitHub's X-Hub-Signature-256.
  verify: verifyGitHubSignature,
  interpret: (event, payload) => {
    if (event === BitbucketEvent.Push) return parsePush(payload);
    const action = PULL_REQUEST_EVENTS[event];
    if (action !== undefined) return parsePullRequest(payload, event, action);
    return { kind: 'ignored', reason: `${event} events start nothing` };
  },
};
