/**
 * GitLab webhooks: the secret token, and the push, tag push and merge request events.
 *
 * - GitLab sends the webhook's secret token as is in `X-Gitlab-Token` (no signature): it is compared
 *   in constant time with the configured secret.
 * - A delivery is named by `Idempotency-Key` (GitLab 17.4+, the same on every retry of one event),
 *   else `X-Gitlab-Event-UUID`.
 * - Merge request actions map to CodePipeline's pull request events: `open` and `reopen` → OPEN,
 *   `update` with new commits (`oldrev`) → UPDATED, `close` and `merge` → CLOSED; others start nothing.
 * @see https://docs.gitlab.com/user/project/integrations/webhooks/
 * @see https://docs.gitlab.com/user/project/integrations/webhook_events/
 */
import * as z from 'zod';
import { GitHost, PullRequestAction } from '../triggers/match';
import { PushedCommit as Commit, filesOfCommits, type ParsedPayload, parsePayload, splitRef } from './payload';
import { constantTimeEqual, type WebhookProvider } from './provider';

export const GitLabEvent = { Push: 'Push Hook', TagPush: 'Tag Push Hook', MergeRequest: 'Merge Request Hook' } as const;

const Project = z.object({ path_with_namespace: z.string().min(1) });
const PushPayload = z.object({
  ref: z.string().min(1),
  after: z.string().min(1),
  checkout_sha: z.string().nullish(),
  user_username: z.string().optional(),
  project: Project,
  commits: z.array(Commit).optional(),
  total_commits_count: z.number().int().optional(),
});

const MergeRequestPayload = z.object({
  user: z.object({ username: z.string() }).optional(),
  project: Project,
  object_attributes: z.object({
    iid: z.number().int(),
    action: z.string().optional(),
    source_branch: z.string().min(1),
    target_branch: z.string().min(1),
    oldrev: z.string().optional(),
    last_commit: Commit,
  }),
});

/** A deleted branch or tag is pushed as `after` of forty zeros. */
const DELETED = /^0+$/;

function parsePush(payload: unknown, event: string): ParsedPayload {
  const push = parsePayload(PushPayload, payload, event);
  const repository = push.project.path_with_namespace;
  const { branch, tag } = splitRef(push.ref);
  if (branch === undefined && tag === undefined) return { kind: 'ignored', reason: `ref ${push.ref} is neither a branch nor a tag` };
  if (DELETED.test(push.after)) return { kind: 'ignored', reason: `${branch !== undefined ? `branch ${branch}` : `tag ${tag}`} was deleted` };
  const commitId = push.checkout_sha ?? push.after;
  const head = push.commits?.find((c) => c.id === commitId);
  // GitLab lists at most 20 commits of a push; past that the file list is incomplete, so unknown.
  const complete = push.commits !== undefined && (push.total_commits_count === undefined || push.total_commits_count <= push.commits.length);
  return {
    kind: 'event',
    parsed: {
      event: {
        kind: 'push',
        provider: GitHost.GitLab,
        repository,
        ...(branch !== undefined && { branch }),
        ...(tag !== undefined && { tag }),
        ...(complete && { changedFiles: filesOfCommits(push.commits ?? []) }),
      },
      revision: {
        repository,
        commitId,
        ...(branch !== undefined && { branchName: branch }),
        ...(tag !== undefined && { tag }),
        ...(head?.message !== undefined && { commitMessage: head.message }),
        ...(head?.author?.name !== undefined && { authorName: head.author.name }),
        ...(head?.timestamp !== undefined && { authorDate: head.timestamp }),
      },
      actor: push.user_username,
    },
  };
}

function mergeRequestAction(action: string | undefined, oldrev: string | undefined): PullRequestAction | undefined {
  if (action === 'open' || action === 'reopen') return PullRequestAction.Open;
  if (action === 'update') return oldrev !== undefined ? PullRequestAction.Updated : undefined;
  if (action === 'close' || action === 'merge') return PullRequestAction.Closed;
  return undefined;
}

function parseMergeRequest(payload: unknown): ParsedPayload {
  const body = parsePayload(MergeRequestPayload, payload, GitLabEvent.MergeRequest);
  const mr = body.object_attributes;
  const action = mergeRequestAction(mr.action, mr.oldrev);
  if (action === undefined)
    return {
      kind: 'ignored',
      reason: `merge request action ${mr.action ?? '(none)'}${mr.action === 'update' ? ' without new commits' : ''} is not one of open, reopen, update, close, merge`,
    };
  const repository = body.project.path_with_namespace;
  return {
    kind: 'event',
    parsed: {
      event: {
        kind: 'pull_request',
        provider: GitHost.GitLab,
        repository,
        branch: mr.source_branch,
        baseBranch: mr.target_branch,
        pullRequestAction: action,
      },
      revision: {
        repository,
        commitId: mr.last_commit.id,
        branchName: mr.source_branch,
        pullRequest: mr.iid,
        ...(mr.last_commit.message !== undefined && { commitMessage: mr.last_commit.message }),
        ...(mr.last_commit.author?.name !== undefined && { authorName: mr.last_commit.author.name }),
        ...(mr.last_commit.timestamp !== undefined && { authorDate: mr.last_commit.timestamp }),
      },
      actor: body.user?.username,
    },
  };
}

export const gitLabWebhook: WebhookProvider = {
  host: GitHost.GitLab,
  route: 'gitlab',
  eventHeader: 'X-Gitlab-Event',
  deliveryHeaders: ['Idempotency-Key', 'X-Gitlab-Event-UUID'],
  signatureHeader: 'X-Gitlab-Token',
  verify: async (secret, _body, token) => secret !== '' && token !== undefined && constantTimeEqual(token, secret),
  interpret: (event, payload) => {
    if (event === GitLabEvent.Push || event === GitLabEvent.TagPush) return parsePush(payload, event);
    if (event === GitLabEvent.MergeRequest) return parseMergeRequest(payload);
    return { kind: 'ignored', reason: `${event} events start nothing` };
  },
};
