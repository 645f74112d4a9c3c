/**
 * A commit's tree as its git host serves it: a gzipped tar with every path under one top directory
 * (read by ./tar.ts). One documented endpoint per host:
 *
 * - GitHub: `GET /repos/{owner}/{repo}/tarball/{sha}` (a redirect to codeload), token as `Bearer`.
 *   @see https://docs.github.com/en/rest/repos/contents#download-a-repository-archive-tar
 * - GitLab: `GET /projects/{url-encoded path}/repository/archive.tar.gz?sha={sha}` on the API
 *   (`https://gitlab.com/api/v4`), token in `PRIVATE-TOKEN`. gitlab.com allows 5 of these a minute.
 *   @see https://docs.gitlab.com/ee/api/repositories.html#get-file-archive
 * - Bitbucket Cloud: `GET https://bitbucket.org/{workspace}/{repo}/get/{sha}.tar.gz` (the repository's
 *   "Download" link; the REST API has no archive endpoint), with HTTP Basic `username:app password`
 *   (or `email:API token`), or an access token as `Bearer`.
 *   @see https://support.atlassian.com/bitbucket-cloud/kb/how-to-download-repositories-using-the-api
 *   @see https://support.atlassian.com/bitbucket-cloud/docs/using-app-passwords/
 */
import { gunzipSync } from 'node:zlib';
import { ErrorName, GIT_HOST_ACCESS_ENV, type GitHost, SteplineError } from '@stepline/core';
import { type GitHubApiOptions, gitHubHeaders, gitHubRepoUrl } from '../github-api';

/** How to reach a git host: `apiUrl` is GitHub's or GitLab's API, or Bitbucket's site. */
export type GitHostApiOptions = GitHubApiOptions;

/** GitLab's and Bitbucket's default base URLs (self-managed GitLab sets its own; GitHub's is in ../github-api.ts). */
const DEFAULT_HOST_URL = { GitLab: 'https://gitlab.com/api/v4', Bitbucket: 'https://bitbucket.org' } as const;

export interface ArchiveRequest {
  url: string;
  headers: Record<string, string>;
}

const base = (host: keyof typeof DEFAULT_HOST_URL, options: GitHostApiOptions) => (options.apiUrl ?? DEFAULT_HOST_URL[host]).replace(/\/+$/, '');

/** `user:secret` (an app password or API token with its user) is Basic; anything else is a bearer token. */
function bitbucketAuthorization(token: string): string {
  return token.includes(':') ? `Basic ${Buffer.from(token, 'utf8').toString('base64')}` : `Bearer ${token}`;
}

/** The request for a commit's tarball on `host`. */
export function archiveRequest(host: GitHost, options: GitHostApiOptions, repository: string, commitId: string): ArchiveRequest {
  const sha = encodeURIComponent(commitId);
  switch (host) {
    case 'GitHub':
      return { url: `${gitHubRepoUrl(options, repository)}/tarball/${sha}`, headers: gitHubHeaders(options) };
    case 'GitLab':
      return {
        url: `${base(host, options)}/projects/${encodeURIComponent(repository)}/repository/archive.tar.gz?sha=${sha}`,
        headers: { 'user-agent': 'stepline-source', ...(options.token !== undefined && { 'private-token': options.token }) },
      };
    case 'Bitbucket': {
      const [workspace, repo, ...rest] = repository.split('/');
      if (!workspace || !repo || rest.length > 0) throw new SteplineError(ErrorName.ActionFailed, `repository ${repository} is not workspace/repo`);
      return {
        url: `${base(host, options)}/${encodeURIComponent(workspace)}/${encodeURIComponent(repo)}/get/${sha}.tar.gz`,
        headers: { 'user-agent': 'stepline-source', ...(options.token !== undefined && { authorization: bitbucketAuthorization(options.token) }) },
      };
    }
  }
}

/**
 * Downloads the tar of `repository` at `commitId` from `host`, ungzipped. Unreachable, throttled or
 * failing hosts are `Stepline.Transient` (the Task retries); a refusal or a missing commit fails the
 * action with what to check.
 */
export async function downloadArchive(host: GitHost, options: GitHostApiOptions, repository: string, commitId: string): Promise<Uint8Array> {
  const { url, headers } = archiveRequest(host, options, repository, commitId);
  const what = `the tree of ${repository}@${commitId}`;
  let response: Response;
  try {
    response = await options.fetch(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 120_000) });
  } catch (error) {
    throw new SteplineError(ErrorName.Transient, `${host} could not be reached for ${what}`, { cause: error });
  }
  if (response.status === 429 || response.status >= 500 || (response.status === 403 && response.headers.get('x-ratelimit-remaining') === '0'))
    throw new SteplineError(ErrorName.Transient, `${host} answered ${response.status} for ${what}`);
  const token =
    options.token === undefined
      ? `no token is set (${GIT_HOST_ACCESS_ENV[host].token})`
      : `check that the token (${GIT_HOST_ACCESS_ENV[host].token}) can read it`;
  if (response.status === 401 || response.status === 403)
    throw new SteplineError(ErrorName.ActionFailed, `${host} refused ${what} (${response.status}): ${token}`);
  if (response.status === 404)
    throw new SteplineError(ErrorName.ActionFailed, `${host} has no commit ${commitId} in ${repository} (404): it does not exist, or ${token}`);
  if (!response.ok) throw new SteplineError(ErrorName.ActionFailed, `${host} answered ${response.status} for ${what}: ${token}`);
  const body = new Uint8Array(await response.arrayBuffer());
  let tar: Uint8Array;
  try {
    tar = body[0] === 0x1f && body[1] === 0x8b ? new Uint8Array(gunzipSync(body)) : body;
  } catch (error) {
    throw new SteplineError(ErrorName.ActionFailed, `${host}'s ${what} is not a gzipped tar`, { cause: error });
  }
  // A sign-in page answered with 200 (a host that redirects refused credentials) is not a tree.
  if (!isTar(tar))
    throw new SteplineError(
      ErrorName.ActionFailed,
      `${host} answered ${what} with ${response.headers.get('content-type') ?? 'something'} that is not a tar: ${token}`,
    );
  return tar;
}

/** ustar's magic at offset 257 of the first header. */
const isTar = (data: Uint8Array) => data.length >= 512 && new TextDecoder().decode(data.subarray(257, 262)) === 'ustar';
