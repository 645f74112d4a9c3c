import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext, recordingLogger } from '../../../../test/helpers/lambda-events';
import { makeSourceHandler, sourceDependencies } from './source';

const sm = mockClient(SecretsManagerClient);
const s3 = mockClient(S3Client);
const SHA = 'f'.repeat(40);

/** A tarball as GitHub serves it: gzipped, every path under `<owner>-<repo>-<sha7>/`. */
const tarDir = mkdtempSync(join(tmpdir(), 'stepline-tarball-'));
mkdirSync(join(tarDir, 'acme-web-fffffff', 'src'), { recursive: true });
writeFileSync(join(tarDir, 'acme-web-fffffff', 'buildspec.yml'), 'version: 0.2\n');
writeFileSync(join(tarDir, 'acme-web-fffffff', 'src', 'index.ts'), 'export const x = 1;\n');
const TARBALL = execFileSync('tar', ['czf', '-', '-C', tarDir, 'acme-web-fffffff']);
afterAll(() => rmSync(tarDir, { recursive: true, force: true }));
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

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
  const fetch = vi.fn(async (url: string | URL | Request, _init?: RequestInit) =>
    String(url).includes('/tarball/') ? new Response(TARBALL, { headers: { 'content-type': 'application/x-gzip' } }) : reply(),
  );
  const handler = makeSourceHandler({ ...sourceDependencies({ GITHUB_TOKEN: 'stepline/github-token' }), logger, fetch });
  return { handler, fetch };
}

describe('source handler', () => {
  beforeEach(() => {
    sm.reset();
    sm.on(GetSecretValueCommand, { SecretId: 'stepline/github-token' }).resolves({ SecretString: 'ghp_test' });
    s3.reset();
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'no such key', $metadata: { httpStatusCode: 404 } }));
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
  });

  it('stores the commit’s tree as the output artifact, each file written once, the manifest last', async () => {
    const { handler, fetch } = setup();
    await handler(task({ repository: 'acme/web', commitId: SHA, commitMessage: 'm', authorName: 'a', authorDate: 'd' }), lambdaContext());
    expect(fetch.mock.calls.map((c) => String(c[0]))).toStrictEqual([`https://api.github.com/repos/acme/web/tarball/${SHA}`]);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key)).toStrictEqual(
      expect.arrayContaining(['web/exec-1/src/buildspec.yml', 'web/exec-1/src/src/index.ts', 'web/exec-1/src/manifest.json']),
    );
    expect(puts.at(-1)?.Key).toBe('web/exec-1/src/manifest.json');
    expect(puts.every((p) => p.Bucket === 'artifacts' && p.IfNoneMatch === '*')).toBe(true);
    const manifest = JSON.parse(String(puts.at(-1)?.Body));
    expect(manifest).toMatchObject({ artifact: 'src', pipeline: 'web', executionId: 'exec-1' });
    expect(manifest.files).toStrictEqual([
      { path: 'buildspec.yml', sha256: sha256('version: 0.2\n'), size: 13 },
      { path: 'src/index.ts', sha256: sha256('export const x = 1;\n'), size: 20 },
    ]);
  });

  it('leaves an artifact an earlier attempt stored as it is, and goes on past files it had written (412)', async () => {
    s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => JSON.stringify({ files: [{}, {}] }) } as never });
    await setup().handler(task({ repository: 'acme/web', commitId: SHA, commitMessage: 'm', authorName: 'a', authorDate: 'd' }), lambdaContext());
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);

    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'no such key', $metadata: { httpStatusCode: 404 } }));
    s3.on(PutObjectCommand, { Key: 'web/exec-1/src/buildspec.yml' }).rejects(
      new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'exists', $metadata: { httpStatusCode: 412 } }),
    );
    await setup().handler(task({ repository: 'acme/web', commitId: SHA, commitMessage: 'm', authorName: 'a', authorDate: 'd' }), lambdaContext());
    expect(s3.commandCalls(PutObjectCommand).some((c) => c.args[0].input.Key === 'web/exec-1/src/manifest.json')).toBe(true);
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
    expect(fetch.mock.calls.map((c) => String(c[0]))).toStrictEqual([`https://api.github.com/repos/acme/web/tarball/${'a'.repeat(40)}`]);
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
    expect(fetch.mock.calls.map((c) => String(c[0]))).toContain('https://api.github.com/repos/acme/web/commits/main');
  });

  it('builds the commit a start named for this action (sourceRevisions) instead of the branch head', async () => {
    const { handler, fetch } = setup();
    const pinned = 'e'.repeat(40);
    const sourceRevisions = [
      { actionName: 'Other', revisionType: 'COMMIT_ID', revisionValue: 'd'.repeat(40) },
      { actionName: 'App', revisionType: 'COMMIT_ID', revisionValue: pinned },
    ];
    const result = await handler(task({}, { sourceRevisions }), lambdaContext());
    expect(result.variables).toMatchObject({ CommitId: pinned, BranchName: 'main', CommitMessage: 'Head commit', AuthorName: 'Ada' });
    expect(fetch.mock.calls.map((c) => String(c[0]))).toStrictEqual([
      `https://api.github.com/repos/acme/web/commits/${pinned}`,
      `https://api.github.com/repos/acme/web/tarball/${pinned}`,
    ]);
    // Another action's override leaves this one on its branch head.
    const other = await handler(task({}, { action: 'Lib', sourceRevisions }), lambdaContext());
    expect(other.variables).toMatchObject({ CommitId: SHA });
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
