/**
 * The parts of GitHub's webhook payloads stepline reads, parsed once with zod. Everything else in a
 * payload is ignored, so new fields from GitHub never break a delivery.
 * @see https://docs.github.com/en/webhooks/webhook-events-and-payloads
 */
import * as z from 'zod';
import { PullRequestAction } from '../triggers/match';
import { PushedCommit as Commit, filesOfCommits, type ParsedPayload, parsePayload as parse, splitRef } from '../webhooks/payload';

const Repository = z.object({ full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/, { error: 'expected owner/repo' }) });
const Account = z.object({ login: z.string() });
const PushPayload = z.object({
  ref: z.string().min(1),
  after: z.string().min(1),
  deleted: z.boolean().optional(),
  repository: Repository,
  head_commit: Commit.nullish(),
  commits: z.array(Commit).optional(),
  pusher: z.object({ name: z.string().optional() }).optional(),
  sender: Account.optional(),
});

const PullRequestPayload = z.object({
  action: z.string(),
  number: z.number().int(),
  repository: Repository,
  sender: Account.optional(),
  pull_request: z.object({
    head: z.object({ sha: z.string().min(1), ref: z.string().min(1) }),
    base: z.object({ ref: z.string().min(1) }),
    user: Account.nullish(),
  }),
});

/** GitHub lists at most this many commits in a push; past it the file list may be incomplete. */
const MAX_LISTED_COMMITS = 2048;

/** Changed files of a push: the commits' added, modified and removed lists (the head commit's when none is listed). */
function changedFiles(payload: z.infer<typeof PushPayload>): string[] | undefined {
  if (payload.commits === undefined) return undefined;
  if (payload.commits.length >= MAX_LISTED_COMMITS) return undefined;
  const commits = payload.commits.length > 0 ? payload.commits : payload.head_commit ? [payload.head_commit] : [];
  return filesOfCommits(commits);
}

export function parsePushPayload(payload: unknown): ParsedPayload {
  const push = parse(PushPayload, payload, 'push');
  const repository = push.repository.full_name;
  const { branch, tag } = splitRef(push.ref);
  if (branch === undefined && tag === undefined) return { kind: 'ignored', reason: `ref ${push.ref} is neither a branch nor a tag` };
  if (push.deleted === true) return { kind: 'ignored', reason: `${branch !== undefined ? `branch ${branch}` : `tag ${tag}`} was deleted` };
  const head = push.head_commit ?? undefined;
  const files = changedFiles(push);
  return {
    kind: 'event',
    parsed: {
      event: {
        kind: 'push',
        provider: 'GitHub',
        repository,
        ...(branch !== undefined && { branch }),
        ...(tag !== undefined && { tag }),
        ...(files !== undefined && { changedFiles: files }),
      },
      revision: {
        repository,
        // `after` is the tag object for an annotated tag; the head commit is what gets built.
        commitId: head?.id ?? push.after,
        ...(branch !== undefined && { branchName: branch }),
        ...(tag !== undefined && { tag }),
        ...(head?.message !== undefined && { commitMessage: head.message }),
        ...(head?.author?.name !== undefined && { authorName: head.author.name }),
        ...(head?.timestamp !== undefined && { authorDate: head.timestamp }),
      },
      actor: push.sender?.login ?? push.pusher?.name,
    },
  };
}

/**
 * GitHub's pull request actions that CodePipeline's OPEN, UPDATED and CLOSED stand for. `closed` counts
 * whether or not the pull request was merged; other actions (labeled, ready_for_review, …) start nothing.
 */
const PULL_REQUEST_ACTIONS: Record<string, PullRequestAction> = {
  opened: PullRequestAction.Open,
  reopened: PullRequestAction.Open,
  synchronize: PullRequestAction.Updated,
  closed: PullRequestAction.Closed,
};

export function parsePullRequestPayload(payload: unknown, files?: readonly string[]): ParsedPayload {
  const body = parse(PullRequestPayload, payload, 'pull_request');
  const action = PULL_REQUEST_ACTIONS[body.action];
  if (action === undefined) return { kind: 'ignored', reason: `pull request action ${body.action} is not one of opened, reopened, synchronize, closed` };
  const repository = body.repository.full_name;
  const pr = body.pull_request;
  return {
    kind: 'event',
    parsed: {
      event: {
        kind: 'pull_request',
        provider: 'GitHub',
        repository,
        branch: pr.head.ref,
        baseBranch: pr.base.ref,
        pullRequestAction: action,
        ...(files !== undefined && { changedFiles: [...files] }),
      },
      revision: { repository, commitId: pr.head.sha, branchName: pr.head.ref, pullRequest: body.number },
      actor: body.sender?.login ?? pr.user?.login,
    },
  };
}
