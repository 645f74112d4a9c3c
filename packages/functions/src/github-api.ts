/**
 * The one GitHub REST call the source function makes: a commit by ref (a branch head, a tag, a SHA).
 * `fetch` is passed in so tests can fake GitHub.
 * @see https://docs.github.com/en/rest/commits/commits#get-a-commit
 */
import { ErrorName, SteplineError } from '@stepline/core';
import type { Fetch } from './slack';

export interface GitHubCommit {
  sha: string;
  message: string;
  authorName: string;
  authorDate: string;
}

export interface GitHubApiOptions {
  fetch: Fetch;
  /** @default 'https://api.github.com' (GitHub Enterprise Server: `https://<host>/api/v3`) */
  apiUrl?: string;
  /** A token that can read the repository; public repositories need none. */
  token?: string;
  timeoutMs?: number;
}

interface CommitBody {
  sha?: unknown;
  commit?: { message?: unknown; author?: { name?: unknown; date?: unknown } | null };
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** `<api>/repos/<owner>/<repo>` */
export function gitHubRepoUrl(options: GitHubApiOptions, repository: string): string {
  const base = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const [owner, repo] = repository.split('/');
  if (!owner || !repo) throw new SteplineError(ErrorName.ActionFailed, `repository ${repository} is not owner/repo`);
  return `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
}

export function gitHubHeaders(options: GitHubApiOptions): Record<string, string> {
  return {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': 'stepline-source',
    ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
  };
}

export async function getCommit(options: GitHubApiOptions, repository: string, ref: string): Promise<GitHubCommit> {
  const url = `${gitHubRepoUrl(options, repository)}/commits/${encodeURIComponent(ref)}`;
  let response: Response;
  try {
    response = await options.fetch(url, {
      headers: gitHubHeaders(options),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new SteplineError(ErrorName.Transient, `GitHub could not be reached for ${repository}@${ref}`, { cause: error });
  }
  if (response.status === 404 || response.status === 422)
    throw new SteplineError(ErrorName.ActionFailed, `GitHub has no commit ${ref} in ${repository} (or the token cannot read the repository)`);
  if (response.status === 429 || response.status >= 500 || (response.status === 403 && response.headers.get('x-ratelimit-remaining') === '0'))
    throw new SteplineError(ErrorName.Transient, `GitHub answered ${response.status} for ${repository}@${ref}`);
  if (!response.ok) throw new SteplineError(ErrorName.ActionFailed, `GitHub answered ${response.status} for ${repository}@${ref}: check the token's access`);
  const body = (await response.json()) as CommitBody;
  const sha = text(body.sha);
  if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new SteplineError(ErrorName.ActionFailed, `GitHub's answer for ${repository}@${ref} has no commit SHA`);
  return { sha, message: text(body.commit?.message), authorName: text(body.commit?.author?.name), authorDate: text(body.commit?.author?.date) };
}
