/**
 * Trigger matching, as CodePipeline V2's trigger `gitConfiguration`: pure, so that the AWS webhook
 * function and `stepline serve` decide the same way.
 *
 * - A pipeline's triggers are OR'd, and so are the filters inside one trigger; the criteria inside one
 *   filter are AND'd (branches or tags, file paths, pull request events).
 * - `includes`/`excludes` are globs (`*` stays inside one path segment, `**` crosses `/`, `?`, `[abc]`,
 *   `{a,b}`, `\` escapes). A value passes when it matches an include (or there are none) and no exclude:
 *   excludes win.
 * - A push filter names branches or tags, never both. A push filter with neither matches branch pushes.
 * - A file path filter passes when at least one changed file passes it. When the event carries no file
 *   list (GitHub's `pull_request` payload has none) the file path criterion is not applied: a build too
 *   many rather than a check missed. A caller that knows the files passes them in `changedFiles`.
 * - Pull request branch filters match the base (target) branch, as CodePipeline's do; the execution
 *   builds the head commit.
 * - A pipeline without triggers starts on a push to one of its source actions' `branch`.
 * - The event's repository must be the trigger's source action's `repository` (compared without case, as
 *   GitHub does), and come from the host the action reads from: a GitLab event never starts a pipeline
 *   whose source is on GitHub with the same name.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/syntax-glob.html
 */
import picomatch from 'picomatch';
import type { Pipeline, SourceAction, Trigger } from '../model/schema';

export const PullRequestAction = { Open: 'OPEN', Updated: 'UPDATED', Closed: 'CLOSED' } as const;
export type PullRequestAction = (typeof PullRequestAction)[keyof typeof PullRequestAction];

/** The git hosts whose webhooks start pipelines. */
export const GitHost = { GitHub: 'GitHub', GitLab: 'GitLab', Bitbucket: 'Bitbucket' } as const;
export type GitHost = (typeof GitHost)[keyof typeof GitHost];

/** The host a source action's repository lives on; none for sources that are not git hosts (S3, ECR, CodeCommit). */
export function gitHostOf(action: Pick<SourceAction, 'provider'>): GitHost | undefined {
  switch (action.provider) {
    case 'GitHub':
    case 'CodeStarSourceConnection':
      return GitHost.GitHub;
    case 'GitLab':
      return GitHost.GitLab;
    case 'Bitbucket':
      return GitHost.Bitbucket;
    default:
      return undefined;
  }
}

/** A git event, whichever provider or runtime saw it. */
export interface GitEvent {
  kind: 'push' | 'pull_request';
  /** Where the event comes from; any source action's host matches when absent. */
  provider?: GitHost;
  /** `owner/repo` (GitLab: `group/subgroup/project`). */
  repository: string;
  /** The pushed branch, or the pull request's head (source) branch. */
  branch?: string;
  /** The pushed tag (pushes only). */
  tag?: string;
  pullRequestAction?: PullRequestAction;
  /** The pull request's base (target) branch: what pull request branch filters match. */
  baseBranch?: string;
  /** Files the event changed; unknown when absent. */
  changedFiles?: string[];
}

export type TriggerMatch = { matched: true; sourceAction: string } | { matched: false; reason: string };

interface FilterCriteria {
  includes?: string[] | undefined;
  excludes?: string[] | undefined;
}

const GLOB_OPTIONS: picomatch.PicomatchOptions = { dot: true, nonegate: true, noextglob: true };
const compiled = new Map<string, (value: string) => boolean>();

function globMatches(pattern: string, value: string): boolean {
  let test = compiled.get(pattern);
  if (!test) {
    test = picomatch(pattern, GLOB_OPTIONS);
    compiled.set(pattern, test);
  }
  return test(value);
}

/** Whether one value passes `includes`/`excludes`: an include matches (or none is given) and no exclude does. */
export function passesFilterCriteria(criteria: FilterCriteria, value: string): boolean {
  if (criteria.excludes?.some((p) => globMatches(p, value))) return false;
  if (criteria.includes === undefined || criteria.includes.length === 0) return true;
  return criteria.includes.some((p) => globMatches(p, value));
}

const sameRepository = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function sourceActions(pipeline: Pick<Pipeline, 'stages'>): SourceAction[] {
  return pipeline.stages.flatMap((s) => s.actions.filter((a): a is SourceAction => a.kind === 'source'));
}

/** `undefined` when the file criterion passes, otherwise why not. */
function filePathsMismatch(criteria: FilterCriteria | undefined, event: GitEvent): string | undefined {
  if (criteria === undefined || event.changedFiles === undefined) return undefined;
  if (event.changedFiles.some((f) => passesFilterCriteria(criteria, f))) return undefined;
  return event.changedFiles.length === 0 ? 'no changed files to match its file paths' : 'no changed file matches its file paths';
}

function pushMismatch(filter: NonNullable<Trigger['push']>[number], event: GitEvent): string | undefined {
  if (event.tag !== undefined) {
    if (!filter.tags) return `tag ${event.tag} is not a branch push`;
    if (!passesFilterCriteria(filter.tags, event.tag)) return `tag ${event.tag} does not match its tags`;
  } else {
    if (event.branch === undefined) return 'the push names no branch';
    if (filter.tags) return `branch ${event.branch} is not a tag push`;
    if (filter.branches && !passesFilterCriteria(filter.branches, event.branch)) return `branch ${event.branch} does not match its branches`;
  }
  return filePathsMismatch(filter.filePaths, event);
}

function pullRequestMismatch(filter: NonNullable<Trigger['pullRequest']>[number], event: GitEvent): string | undefined {
  if (event.pullRequestAction === undefined || !filter.events.includes(event.pullRequestAction))
    return `pull request event ${event.pullRequestAction ?? '(none)'} is not one of ${filter.events.join(', ')}`;
  if (filter.branches) {
    if (event.baseBranch === undefined) return 'the pull request names no base branch';
    if (!passesFilterCriteria(filter.branches, event.baseBranch)) return `base branch ${event.baseBranch} does not match its branches`;
  }
  return filePathsMismatch(filter.filePaths, event);
}

/** `undefined` when the event comes from the action's repository, on its host; otherwise why not. */
function repositoryMismatch(action: SourceAction, event: GitEvent): string | undefined {
  if (event.provider !== undefined && gitHostOf(action) !== event.provider)
    return `source action ${action.name} reads from ${action.provider}, not ${event.provider}`;
  if (!sameRepository(action.repository, event.repository)) return `source action ${action.name} watches ${action.repository}, not ${event.repository}`;
  return undefined;
}

/** `undefined` when the trigger matches, otherwise why not. */
function triggerMismatch(trigger: Trigger, action: SourceAction, event: GitEvent): string | undefined {
  const elsewhere = repositoryMismatch(action, event);
  if (elsewhere !== undefined) return elsewhere;
  // A trigger with no filters at all starts on pushes to the source action's branch, as CodePipeline's "no filter".
  if (trigger.push === undefined && trigger.pullRequest === undefined) return defaultBranchMismatch(action, event);
  const reasons =
    event.kind === 'push' ? (trigger.push ?? []).map((f) => pushMismatch(f, event)) : (trigger.pullRequest ?? []).map((f) => pullRequestMismatch(f, event));
  if (reasons.length === 0) return `it has no ${event.kind === 'push' ? 'push' : 'pull request'} filters`;
  if (reasons.includes(undefined)) return undefined;
  return unique(reasons.filter((r): r is string => r !== undefined)).join(', ');
}

function defaultBranchMismatch(action: SourceAction, event: GitEvent): string | undefined {
  if (event.kind !== 'push') return `only pushes to ${action.branch} start it`;
  if (event.tag !== undefined) return `tag ${event.tag} is not a push to ${action.branch}`;
  if (event.branch !== action.branch) return `branch ${event.branch ?? '(none)'} is not ${action.branch}`;
  return undefined;
}

const unique = (items: string[]) => [...new Set(items)];

/**
 * Whether an event starts a pipeline, and through which source action; or why not, in words a user
 * reads in the webhook's log (`branch docs/x does not match its branches`).
 */
export function matchTriggers(pipeline: Pick<Pipeline, 'stages' | 'triggers'>, event: GitEvent): TriggerMatch {
  const sources = sourceActions(pipeline);
  const first = sources[0];
  if (!first) return { matched: false, reason: 'it has no source action' };

  if (pipeline.triggers.length === 0) {
    const reasons: string[] = [];
    for (const action of sources) {
      const reason = repositoryMismatch(action, event) ?? defaultBranchMismatch(action, event);
      if (reason === undefined) return { matched: true, sourceAction: action.name };
      reasons.push(reason);
    }
    return { matched: false, reason: `no triggers, and ${unique(reasons).join('; ')}` };
  }

  const reasons: string[] = [];
  for (const [i, trigger] of pipeline.triggers.entries()) {
    const action = trigger.sourceAction === undefined ? first : sources.find((a) => a.name === trigger.sourceAction);
    if (!action) {
      reasons.push(`trigger ${i + 1}: no source action is named ${trigger.sourceAction}`);
      continue;
    }
    const reason = triggerMismatch(trigger, action, event);
    if (reason === undefined) return { matched: true, sourceAction: action.name };
    reasons.push(`trigger ${i + 1} (${action.name}): ${reason}`);
  }
  return { matched: false, reason: reasons.join('; ') };
}
