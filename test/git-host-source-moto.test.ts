/**
 * GitLab and Bitbucket sources on AWS store the commit's tree as the source artifact, as GitHub's do.
 * A local HTTP server stands in for each host, serving a real `git archive` of a repository at the
 * documented endpoint and checking the documented credentials (GitLab's `PRIVATE-TOKEN` on
 * `/projects/:id/repository/archive.tar.gz?sha=`, Bitbucket's HTTP Basic on `/<workspace>/<repo>/get/<sha>.tar.gz`).
 * The compiled machine runs in the local engine; its source Task calls the real source function, which
 * reads the token from SSM as the installation plans it and writes to moto's S3, and the S3 deploy Task
 * calls the real s3-deploy function, which reads that artifact: each function signs as a moto user
 * holding exactly its planned statements (IAM enforced).
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { type GitHost, type Pipeline, parsePipeline } from '@stepline/core';
import { execute } from '@stepline/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3DeployHandler } from '../packages/functions/src/handlers/s3-deploy';
import { createSourceHandler } from '../packages/functions/src/handlers/source';
import { SecretCache } from '../packages/functions/src/secrets';
import { planInstallation } from '../stacks/plan';
import { lambdaContext } from './helpers/lambda-events';
import { BOOTSTRAP_REQUESTS, type EnforcedIam, enforceIam } from './helpers/moto-iam';
import { MOTO_ACCOUNT, type MotoServer, motoSkipReason, startMoto } from './helpers/moto-server';
import { createProject, type Project } from './helpers/project';
import { stubHandlers } from './helpers/stub-handlers';

const skip = motoSkipReason();
const ACCOUNT = MOTO_ACCOUNT;
const GITLAB_TOKEN = 'glpat-right';
const BITBUCKET_CREDENTIALS = 'ci-bot:app-password-right';

const pipelineOf = (host: GitHost, repository: string): Pipeline =>
  parsePipeline({
    name: `site-${host.toLowerCase()}`,
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', provider: host, repository, branch: 'main', outputArtifacts: ['Src'] }] },
      { name: 'Publish', actions: [{ name: 'Site', kind: 's3deploy', bucket: `www-${host.toLowerCase()}`, inputArtifacts: ['Src'] }] },
    ],
  });
const REPOSITORY = { GitLab: 'acme/sites/web', Bitbucket: 'acme/web' } as const;
const PIPELINES = { GitLab: pipelineOf('GitLab', REPOSITORY.GitLab), Bitbucket: pipelineOf('Bitbucket', REPOSITORY.Bitbucket) } as const;
type Host = keyof typeof PIPELINES;
const plan = planInstallation({
  stage: 'team',
  region: 'us-east-1',
  accountId: ACCOUNT,
  pipelines: Object.values(PIPELINES),
  secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey', 'GitlabToken', 'BitbucketToken']),
});

/** What the compiled source Task sends for a start on `commitId`. */
const sourceTask = (host: Host, executionId: string, commitId: string) => ({
  pipeline: PIPELINES[host].name,
  stage: 'Source',
  action: 'Checkout',
  executionId,
  provider: host,
  repository: REPOSITORY[host],
  branch: 'main',
  outputArtifact: 'Src',
  artifactBucket: plan.names.bucket,
  trigger: { repository: REPOSITORY[host], commitId },
});

/** A repository on a git host, served as that host serves archives, recording each request. */
interface FakeHost {
  url: string;
  requests: Array<{ path: string; auth: string | undefined }>;
  close(): Promise<void>;
}

async function fakeGitHosts(project: Project): Promise<FakeHost> {
  const requests: FakeHost['requests'] = [];
  const archive = (sha: string, prefix: string) => execFileSync('git', ['archive', '--format=tar.gz', `--prefix=${prefix}/`, sha], { cwd: project.dir });
  const known = (sha: string) => {
    try {
      return (
        execFileSync('git', ['cat-file', '-t', sha], { cwd: project.dir, stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim() === 'commit'
      );
    } catch {
      return false;
    }
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://host');
    const raw = (req.url ?? '').split('?')[0] ?? '';
    const gitlab = /^\/gitlab\/api\/v4\/projects\/([^/]+)\/repository\/archive\.tar\.gz$/.exec(raw);
    const bitbucket = /^\/bitbucket\/([^/]+)\/([^/]+)\/get\/([0-9a-f]{40})\.tar\.gz$/.exec(raw);
    requests.push({ path: req.url ?? '', auth: (req.headers['private-token'] as string | undefined) ?? req.headers.authorization });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (gitlab) {
      // The project's path must arrive URL-encoded (`acme%2Fsites%2Fweb`), as GitLab requires.
      const sha = url.searchParams.get('sha') ?? '';
      if (req.headers['private-token'] !== GITLAB_TOKEN) return json(401, { message: '401 Unauthorized' });
      if (gitlab[1] !== 'acme%2Fsites%2Fweb') return json(404, { message: '404 Project Not Found' });
      if (!known(sha)) return json(404, { message: '404 Commit Not Found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(archive(sha, `web-${sha}-${sha}`));
    }
    if (raw === '/bitbucket/account/signin/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end('<!DOCTYPE html><html><body>Log in to continue</body></html>');
    }
    if (bitbucket) {
      const [, workspace, repo, sha = ''] = bitbucket;
      // Without credentials the site sends the browser to its sign-in page, as bitbucket.org does.
      if (req.headers.authorization === undefined) {
        res.writeHead(302, { location: '/bitbucket/account/signin/' });
        return res.end();
      }
      if (req.headers.authorization !== `Basic ${Buffer.from(BITBUCKET_CREDENTIALS).toString('base64')}`) return json(401, { type: 'error' });
      if (`${workspace}/${repo}` !== 'acme/web' || !known(sha)) return json(404, { type: 'error', error: { message: 'Resource not found' } });
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      return res.end(archive(sha, `${workspace}-${repo}-${sha.slice(0, 12)}`));
    }
    json(404, { message: 'no such endpoint' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const FILES: Record<string, string> = {
  'index.html': '<h1>from the host</h1>\n',
  'css/site.css': 'h1 { color: teal }\n',
  'scripts/build.sh': '#!/bin/sh\necho built\n',
};

describe.skipIf(skip)('GitLab and Bitbucket sources on AWS store the tree (moto_server, IAM enforced)', () => {
  let moto: MotoServer;
  let iam: EnforcedIam;
  let admin: { s3: S3Client; ssm: SSMClient };
  let project: Project;
  let hosts: FakeHost;
  let users: { source: ReturnType<EnforcedIam['config']>; s3deploy: ReturnType<EnforcedIam['config']> };

  beforeAll(async () => {
    project = createProject(FILES);
    hosts = await fakeGitHosts(project);
    moto = await startMoto({ freeRequests: BOOTSTRAP_REQUESTS });
    iam = await enforceIam(moto);
    const a = iam.config(iam.admin);
    admin = { s3: new S3Client(a), ssm: new SSMClient(a) };
    for (const bucket of [plan.names.bucket, 'www-gitlab', 'www-bitbucket']) await admin.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    users = {
      source: iam.config(await iam.makeUser('source', plan.functions.source.statements)),
      s3deploy: iam.config(await iam.makeUser('s3-deploy', plan.functions['s3-deploy'].statements)),
    };
  }, 60_000);
  afterAll(async () => {
    await moto?.stop();
    await hosts?.close();
    project?.remove();
  });

  /** Sets the tokens the installation's SSM parameters hold, as `sst secret set` would. */
  async function setTokens(gitlab: string, bitbucket: string) {
    for (const [variable, value] of [
      ['GITLAB_TOKEN', gitlab],
      ['BITBUCKET_TOKEN', bitbucket],
    ] as const) {
      const name = plan.functions.source.environment[variable];
      if (!name) throw new Error(`the plan gives the source function no ${variable}`);
      await admin.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true }));
    }
  }

  /** The source function as installed: the planned environment (hosts pointed at the stand-in) and role. */
  /** The source function as installed; `without` leaves variables out, as an installation without that secret has them. */
  function sourceHandler(without: string[] = []) {
    const env: Record<string, string> = {
      ...plan.functions.source.environment,
      GITLAB_API_URL: `${hosts.url}/gitlab/api/v4`,
      BITBUCKET_URL: `${hosts.url}/bitbucket`,
    };
    for (const variable of without) delete env[variable];
    return createSourceHandler({
      env,
      // A fresh cache per run: a token changed between tests is read again.
      secrets: new SecretCache({ ssm: async () => new SSMClient(users.source), secretsManager: async () => new SecretsManagerClient(users.source) }),
      fetch: (...args) => fetch(...args),
      logger: new Logger({ logLevel: 'SILENT' }),
      s3: async () => new S3Client(users.source),
      ecr: () => Promise.reject(new Error('no ECR here')),
    });
  }

  async function run(host: Host, executionId: string) {
    const machine = plan.stateMachines.find((m) => m.pipeline.name === PIPELINES[host].name);
    if (!machine) throw new Error(`no state machine for ${host}`);
    const source = sourceHandler();
    const s3deploy = createS3DeployHandler({ s3: () => new S3Client(users.s3deploy), logger: new Logger({ logLevel: 'SILENT' }) });
    const stateOf = (kind: string) => Object.entries(machine.compiled.stateMap).find(([, info]) => info.kind === kind && info.role === 'action')?.[0] ?? '';
    const execution = execute(machine.compiled.definition, {
      input: { variables: {}, source: { repository: REPOSITORY[host], commitId: project.commit, branchName: 'main' } },
      executionName: executionId,
      handlers: stubHandlers(machine.compiled, {
        [stateOf('source')]: async (input) => ({ Payload: await source((input as { Payload: unknown }).Payload, lambdaContext('stepline-team-source')) }),
        [stateOf('s3deploy')]: async (input) => ({ Payload: await s3deploy((input as { Payload: unknown }).Payload) }),
      }),
    });
    return execution.outcome;
  }

  const text = async (bucket: string, key: string) =>
    (await (await admin.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString()) ?? '';
  // moto refuses a signed ListObjectsV2 whose Prefix holds a `/` (docs/testing.md): list by the pipeline, then filter.
  const keysUnder = async (bucket: string, prefix: string) =>
    ((await admin.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix.split('/')[0] }))).Contents ?? [])
      .map((o) => o.Key ?? '')
      .filter((k) => k.startsWith(prefix))
      .sort();
  const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');

  for (const host of ['GitLab', 'Bitbucket'] as const) {
    it(`${host}: the commit's tree becomes the source artifact, and the S3 deploy after it publishes those files`, async () => {
      // Prepare
      await setTokens(GITLAB_TOKEN, BITBUCKET_CREDENTIALS);
      const pipeline = PIPELINES[host].name;
      // Act
      const outcome = await run(host, `${host}-ok`);
      // Assess
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'SUCCEEDED' });
      const artifact = `${pipeline}/${host}-ok/Src/`;
      expect(await keysUnder(plan.names.bucket, artifact)).toStrictEqual(
        [...Object.keys(FILES), '.gitignore', 'manifest.json'].map((p) => `${artifact}${p}`).sort(),
      );
      const manifest = JSON.parse(await text(plan.names.bucket, `${artifact}manifest.json`)) as { files: Array<{ path: string; sha256: string }> };
      expect(manifest.files.find((f) => f.path === 'css/site.css')?.sha256).toBe(sha256(FILES['css/site.css'] ?? ''));
      const bucket = `www-${host.toLowerCase()}`;
      for (const [path, content] of Object.entries(FILES)) expect(await text(bucket, path)).toBe(content);
      const asked = hosts.requests.filter((r) => r.path.startsWith(`/${host.toLowerCase()}/`)).at(-1);
      expect(asked).toStrictEqual(
        host === 'GitLab'
          ? { path: `/gitlab/api/v4/projects/acme%2Fsites%2Fweb/repository/archive.tar.gz?sha=${project.commit}`, auth: GITLAB_TOKEN }
          : { path: `/bitbucket/acme/web/get/${project.commit}.tar.gz`, auth: `Basic ${Buffer.from(BITBUCKET_CREDENTIALS).toString('base64')}` },
      );
    });
  }

  it('a refused token fails the source action, naming the host, the commit and the secret to check, and stores nothing', async () => {
    await setTokens('glpat-revoked', 'ci-bot:revoked');
    const handler = sourceHandler();
    await expect(handler(sourceTask('GitLab', 'GitLab-refused', project.commit))).rejects.toMatchObject({
      name: 'Stepline.ActionFailed',
      message: `GitLab refused the tree of acme/sites/web@${project.commit} (401): check that the token (GITLAB_TOKEN) can read it`,
    });
    await expect(handler(sourceTask('Bitbucket', 'Bitbucket-refused', project.commit))).rejects.toMatchObject({
      name: 'Stepline.ActionFailed',
      message: `Bitbucket refused the tree of acme/web@${project.commit} (401): check that the token (BITBUCKET_TOKEN) can read it`,
    });
    for (const host of ['GitLab', 'Bitbucket'] as const)
      expect(await keysUnder(plan.names.bucket, `${PIPELINES[host].name}/${host}-refused/`)).toStrictEqual([]);
  });

  it('Bitbucket without credentials answers with its sign-in page: refused as not a tree, saying no token is set', async () => {
    await expect(sourceHandler(['BITBUCKET_TOKEN'])(sourceTask('Bitbucket', 'Bitbucket-anonymous', project.commit))).rejects.toMatchObject({
      name: 'Stepline.ActionFailed',
      message: `Bitbucket answered the tree of acme/web@${project.commit} with text/html; charset=utf-8 that is not a tar: no token is set (BITBUCKET_TOKEN)`,
    });
    expect(await keysUnder(plan.names.bucket, `${PIPELINES.Bitbucket.name}/Bitbucket-anonymous/`)).toStrictEqual([]);
  });

  it('a commit the host does not have fails the source action with 404 and what it means', async () => {
    await setTokens(GITLAB_TOKEN, BITBUCKET_CREDENTIALS);
    const missing = 'd'.repeat(40);
    const handler = sourceHandler();
    await expect(handler(sourceTask('GitLab', 'GitLab-missing', missing))).rejects.toThrow(
      `GitLab has no commit ${missing} in acme/sites/web (404): it does not exist, or check that the token (GITLAB_TOKEN) can read it`,
    );
    await expect(handler(sourceTask('Bitbucket', 'Bitbucket-missing', missing))).rejects.toThrow(
      `Bitbucket has no commit ${missing} in acme/web (404): it does not exist, or check that the token (BITBUCKET_TOKEN) can read it`,
    );
  });
});
