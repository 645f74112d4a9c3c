import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext, recordingLogger } from '../../../../test/helpers/lambda-events';
import { makeSourceHandler, sourceDependencies } from './source';

const sm = mockClient(SecretsManagerClient);
const SHA = 'f'.repeat(40);

const task = (trigger: Record<string, unknown> | undefined, over: Record<string, unknown> = {}) => ({
  pipeline: 'web',
  stage: 'Source',
  action: 'App',
  executionId: 'exec-1',
  provider: 'GitHub',
  repository: 'acme/web',
  branch: 'main',
  outputArtifact: 'src',
  artifactBucket: 'artifacts',
  trigger,
  ...over,
});

function setup(
  reply: () => Response = () => Response.json({ sha: SHA, commit: { message: 'Head commit', author: { name: 'Ada', date: '2026-01-01T00:00:00Z' } } }),
) {
  const { logger } = recordingLogger('source');
  const fetch = vi.fn(async (_url: string | URL | Request, _init?: RequestInit) => reply());
  const handler = makeSourceHandler({ ...sourceDependencies({ GITHUB_TOKEN: 'stepline/github-token' }), logger, fetch });
  return { handler, fetch };
}

describe('source handler', () => {
  beforeEach(() => {
    sm.reset();
    sm.on(GetSecretValueCommand, { SecretId: 'stepline/github-token' }).resolves({ SecretString: 'ghp_test' });
  });

  it('returns the trigger commit as the action variables, without calling GitHub when nothing is missing', async () => {
    const { handler, fetch } = setup();
    const trigger = {
      repository: 'acme/web',
      commitId: 'a'.repeat(40),
      branchName: 'feature/x',
      commitMessage: 'Fix',
      authorName: 'Bob',
      authorDate: '2026-02-02T00:00:00Z',
    };
    expect(await handler(task(trigger), lambdaContext())).toStrictEqual({
      variables: {
        CommitId: 'a'.repeat(40),
        BranchName: 'feature/x',
        CommitMessage: 'Fix',
        AuthorName: 'Bob',
        AuthorDate: '2026-02-02T00:00:00Z',
        FullRepositoryName: 'acme/web',
        ProviderType: 'GitHub',
      },
    });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('resolves the branch head through the GitHub API on a manual start, with the token', async () => {
    const { handler, fetch } = setup();
    const result = await handler(task({}), lambdaContext());
    expect(result.variables).toMatchObject({ CommitId: SHA, BranchName: 'main', CommitMessage: 'Head commit', AuthorName: 'Ada' });
    const [url, init] = fetch.mock.calls[0] ?? [];
    expect(url).toBe('https://api.github.com/repos/acme/web/commits/main');
    expect(new Headers(init?.headers).get('authorization')).toBe('Bearer ghp_test');
  });

  it('fills a pull request commit from the API, and builds a branch head for a trigger on another repository', async () => {
    const { handler, fetch } = setup();
    const pr = await handler(task({ repository: 'acme/web', commitId: 'c'.repeat(40), branchName: 'feat', pullRequest: 3 }), lambdaContext());
    expect(pr.variables).toMatchObject({ CommitId: 'c'.repeat(40), BranchName: 'feat', CommitMessage: 'Head commit' });
    expect(fetch.mock.calls[0]?.[0]).toBe(`https://api.github.com/repos/acme/web/commits/${'c'.repeat(40)}`);
    const other = await handler(task({ repository: 'acme/lib', commitId: 'd'.repeat(40), branchName: 'dev' }), lambdaContext());
    expect(other.variables).toMatchObject({ CommitId: SHA, BranchName: 'main' });
    expect(fetch.mock.calls[1]?.[0]).toBe('https://api.github.com/repos/acme/web/commits/main');
  });

  it('fails the action on a missing branch and asks for a retry on GitHub outages', async () => {
    await expect(setup(() => new Response('{}', { status: 404 })).handler(task({}), lambdaContext())).rejects.toMatchObject({
      name: 'Stepline.ActionFailed',
      retryable: false,
    });
    await expect(setup(() => new Response('{}', { status: 502 })).handler(task({}), lambdaContext())).rejects.toMatchObject({
      name: 'Stepline.Transient',
      retryable: true,
    });
    await expect(setup().handler(task({}, { provider: 'S3' }), lambdaContext())).rejects.toMatchObject({ name: 'Stepline.ActionFailed' });
    await expect(setup().handler({ nope: true }, lambdaContext())).rejects.toMatchObject({ name: 'Stepline.ActionFailed' });
  });
});
