/**
 * An S3 source on AWS against moto_server with IAM enforced: the source function signs as a user
 * holding exactly the statements the installation plans for it and is called by the compiled source
 * Task (the machine run in the local engine, its other Tasks stubbed). It reads the object of a
 * versioned bucket at its latest version, at the version a start names (S3_OBJECT_VERSION_ID), and
 * under the key a start names when the action allows it (S3_OBJECT_KEY), and stores the zip's files as
 * the output artifact with CodePipeline's ETag and VersionId variables.
 */
import { CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type ExecutionInput, parsePipeline, type SourceRevisionOverride, zipStored } from '@stepline/core';
import { execute } from '@stepline/local';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSourceHandler } from '../packages/functions/src/handlers/source';
import { functionLogger } from '../packages/functions/src/runtime';
import type { InstallationPlan } from '../stacks/plan';
import { planForMoto } from '../stacks/plan-fixture';
import { checkRequest } from './helpers/iam-check';
import { BOOTSTRAP_REQUESTS, enforceIam } from './helpers/moto-iam';
import { motoForSuite, motoSkipReason } from './helpers/moto-server';
import { noWaits, stubHandlers } from './helpers/stub-handlers';

const skip = motoSkipReason();
const pipeline = parsePipeline({
  name: 'drops',
  stages: [
    {
      name: 'Source',
      actions: [
        { name: 'Assets', kind: 'source', provider: 'S3', repository: 'drops/app/build.zip', allowOverrideForS3ObjectKey: true, outputArtifacts: ['Src'] },
      ],
    },
    { name: 'Use', actions: [{ name: 'Look', kind: 'invoke', function: 'look', inputArtifacts: ['Src'] }] },
  ],
});
const zip = (text: string) => zipStored([{ path: 'site/index.html', data: new TextEncoder().encode(text) }]);

describe.skipIf(skip)('S3 source on moto_server, IAM enforced', () => {
  const moto = motoForSuite({ freeRequests: BOOTSTRAP_REQUESTS });
  let plan: InstallationPlan;
  let admin: S3Client;
  let source: ReturnType<typeof createSourceHandler>;
  const versions: string[] = [];

  beforeAll(async () => {
    const iam = await enforceIam(moto());
    plan = planForMoto([pipeline]);
    admin = new S3Client(iam.config(iam.admin));
    await admin.send(new CreateBucketCommand({ Bucket: plan.names.bucket }));
    await admin.send(new CreateBucketCommand({ Bucket: 'drops' }));
    await admin.send(new PutBucketVersioningCommand({ Bucket: 'drops', VersioningConfiguration: { Status: 'Enabled' } }));
    for (const text of ['v1', 'v2'])
      versions.push((await admin.send(new PutObjectCommand({ Bucket: 'drops', Key: 'app/build.zip', Body: zip(text) }))).VersionId ?? '');
    await admin.send(new PutObjectCommand({ Bucket: 'drops', Key: 'app/hotfix.zip', Body: zip('hotfix') }));
    await admin.send(new PutObjectCommand({ Bucket: 'drops', Key: 'app/notes.txt', Body: 'not a zip' }));
    const keys = await iam.makeUser('source', plan.functions.source.statements);
    source = createSourceHandler({
      env: { ARTIFACT_BUCKET: plan.names.bucket },
      secrets: { get: async () => '', refresh: async () => undefined } as never,
      fetch: () => Promise.reject(new Error('no GitHub here')),
      logger: functionLogger('source-s3-test'),
      s3: async () => new S3Client(iam.config(keys)),
      ecr: async () => {
        throw new Error('no ECR here');
      },
    });
  }, 60_000);

  /** Runs the compiled machine with the source Task calling the function: its outcome, the artifact's page and the source's variables. */
  async function run(executionId: string, sourceRevisions: SourceRevisionOverride[] = []) {
    const compiled = plan.stateMachines[0]?.compiled;
    if (!compiled) throw new Error('no machine planned');
    const input: ExecutionInput = { pipeline: 'drops', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {}, sourceRevisions };
    let variables: Record<string, string> = {};
    const outcome = await execute(compiled.definition, {
      input,
      executionName: executionId,
      handlers: stubHandlers(compiled, {
        'Source · Assets': async (call) => {
          const answer = await source((call as { Payload: unknown }).Payload);
          variables = answer.variables as unknown as Record<string, string>;
          return { Payload: answer };
        },
      }),
      waitTimeOverrides: noWaits(compiled),
    }).outcome;
    const page = outcome.status === 'SUCCEEDED' ? await stored(`drops/${executionId}/Src/site/index.html`).catch(() => undefined) : undefined;
    return { outcome, page, variables };
  }

  const stored = async (key: string) =>
    (await (await admin.send(new GetObjectCommand({ Bucket: plan.names.bucket, Key: key }))).Body?.transformToString()) ?? '';

  it('reads the latest version, the version a start names, and the key a start names', async () => {
    const latest = await run('e-latest');
    expect(latest.page).toBe('v2');
    expect(latest.variables).toMatchObject({ VersionId: versions[1], CommitId: versions[1], FullRepositoryName: 'drops/app/build.zip', ProviderType: 'S3' });
    expect(latest.variables.ETag).toMatch(/^[0-9a-f]{32}$/);

    const pinned = await run('e-pinned', [{ actionName: 'Assets', revisionType: 'S3_OBJECT_VERSION_ID', revisionValue: versions[0] ?? '' }]);
    expect(pinned.page).toBe('v1');
    expect(pinned.variables).toMatchObject({ VersionId: versions[0] });

    const hotfix = await run('e-hotfix', [{ actionName: 'Assets', revisionType: 'S3_OBJECT_KEY', revisionValue: 'app/hotfix.zip' }]);
    expect(hotfix.page).toBe('hotfix');
    expect(hotfix.variables).toMatchObject({ FullRepositoryName: 'drops/app/hotfix.zip' });
  });

  it('passes an object that is not a zip on as the artifact’s one file', async () => {
    const notes = await run('e-notes', [{ actionName: 'Assets', revisionType: 'S3_OBJECT_KEY', revisionValue: 'app/notes.txt' }]);
    expect(notes.outcome.status).toBe('SUCCEEDED');
    expect(await stored('drops/e-notes/Src/notes.txt')).toBe('not a zip');
    const manifest = JSON.parse(await stored('drops/e-notes/Src/manifest.json'));
    expect(manifest.files.map((f: { path: string }) => f.path)).toStrictEqual(['notes.txt']);
  });

  it('fails the action naming the object and version it could not read', async () => {
    const gone = await run('e-gone', [{ actionName: 'Assets', revisionType: 'S3_OBJECT_VERSION_ID', revisionValue: 'no-such-version' }]);
    expect(gone.outcome).toMatchObject({ status: 'FAILED', error: 'Stepline.ActionFailed' });
    expect(gone.outcome.cause).toMatch(
      /^Stage Source, action Assets failed: S3 source Assets: s3:\/\/drops\/app\/build\.zip \(version no-such-version\) could not be read: \w+/,
    );
  });

  it('may read only its own object, unless the action lets a start name another key', async () => {
    const fixed = parsePipeline({
      ...pipeline,
      stages: [
        { name: 'Source', actions: [{ name: 'Assets', kind: 'source', provider: 'S3', repository: 'drops/app/build.zip', outputArtifacts: ['Src'] }] },
        pipeline.stages[1],
      ],
    });
    const statements = planForMoto([fixed]).functions.source.statements;
    const ask = (action: string, key: string) =>
      checkRequest(statements, { principal: 'source', action, resource: `arn:aws:s3:::drops/${key}`, mayBeMissing: true });
    expect(await ask('s3:GetObjectVersion', 'app/build.zip')).toStrictEqual([]);
    expect(await ask('s3:GetObject', 'app/hotfix.zip')).not.toStrictEqual([]);
  });
});
