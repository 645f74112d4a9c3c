/**
 * An ECR source on AWS against moto_server with IAM enforced: the source function signs as a user
 * holding exactly the statements the installation plans for it, resolves the image (by tag, or the
 * digest a push event carried) with ecr:DescribeImages, and stores imageDetail.json as the output
 * artifact. The EventBridge rule the installation plans is created in moto and ECR's push events are
 * put on the bus: moto matches them against the rule's pattern and delivers the matching ones to a
 * CloudWatch Logs target. moto answers TestEventPattern with nothing and does not start Step Functions
 * executions from a rule, so the execution input the rule's transformer makes is made here, as
 * EventBridge documents it, and the compiled machine is started with it in the local engine.
 */

import { CloudWatchLogsClient, CreateLogGroupCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import {
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ExecutionInputSchema, parsePipeline } from '@stepline/core';
import { execute } from '@stepline/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceHandler } from '../packages/functions/src/handlers/source';
import { functionLogger } from '../packages/functions/src/runtime';
import { planFor, TEST_ACCOUNT, TEST_REGION } from '../stacks/plan-fixture';
import { checkRequest } from './helpers/iam-check';
import { type Keys, motoAdmin, motoUser } from './helpers/moto-iam';
import { type MotoServer, motoClientConfig, motoSkipReason, startMoto } from './helpers/moto-server';
import { stubHandlers } from './helpers/stub-handlers';

const skip = motoSkipReason();
const ACCOUNT = TEST_ACCOUNT;
const pipeline = parsePipeline({
  name: 'images',
  stages: [
    { name: 'Source', actions: [{ name: 'Image', kind: 'source', provider: 'ECR', repository: 'team/web', imageTag: 'release', outputArtifacts: ['Img'] }] },
    { name: 'Check', actions: [{ name: 'Look', kind: 'invoke', function: 'look', inputArtifacts: ['Img'] }] },
  ],
});
const plan = planFor([pipeline]);
const manifest = (layer: string) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 7023, digest: `sha256:${'c'.repeat(64)}` },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 32654, digest: `sha256:${layer.repeat(64)}` }],
  });
/** ECR's "ECR Image Action" event, as its documentation shows it. */
const pushEvent = (detail: Record<string, string>) => ({
  version: '0',
  id: '13cde686-328b-6117-af20-0e5566167482',
  'detail-type': 'ECR Image Action',
  source: 'aws.ecr',
  account: ACCOUNT,
  time: '2026-12-04T20:43:05Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    result: 'SUCCESS',
    'repository-name': 'team/web',
    'image-digest': `sha256:${'e'.repeat(64)}`,
    'action-type': 'PUSH',
    'image-tag': 'release',
    ...detail,
  },
});

/**
 * The input EventBridge gives the rule's target: the template with each placeholder replaced by the
 * value its path selects, as a JSON value (a placeholder outside quotes, as the rule's template has them).
 * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html
 */
function transformed(rule: { inputPaths: Record<string, string>; inputTemplate: string }, event: unknown): unknown {
  const select = (path: string) =>
    path
      .replace(/^\$\./, '')
      .split('.')
      .reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], event);
  return JSON.parse(
    rule.inputTemplate.replace(/<(\w+)>/g, (_m, key: string) => {
      const path = rule.inputPaths[key];
      if (path === undefined) throw new Error(`the template's <${key}> has no input path`);
      return JSON.stringify(select(path));
    }),
  );
}

describe.skipIf(skip)('ECR source on moto_server', () => {
  let moto: MotoServer;
  let admin: { ecr: ECRClient; s3: S3Client; events: EventBridgeClient; logs: CloudWatchLogsClient };
  let source: ReturnType<typeof createSourceHandler>;
  const task = (trigger: Record<string, unknown> = {}) => ({
    pipeline: 'images',
    stage: 'Source',
    action: 'Image',
    executionId: `exec-${Math.random().toString(16).slice(2)}`,
    provider: 'ECR',
    repository: 'team/web',
    branch: 'main',
    imageTag: 'release',
    outputArtifact: 'Img',
    artifactBucket: plan.names.bucket,
    trigger,
  });

  beforeAll(async () => {
    moto = await startMoto({ freeRequests: 3 });
    const config = (credentials: Keys) => ({ ...motoClientConfig(moto), credentials });
    const a = config(await motoAdmin((k) => new IAMClient(config(k))));
    admin = { ecr: new ECRClient(a), s3: new S3Client(a), events: new EventBridgeClient(a), logs: new CloudWatchLogsClient(a) };
    const fn = config(await motoUser(new IAMClient(a), 'source', plan.functions.source.statements));
    await admin.s3.send(new CreateBucketCommand({ Bucket: plan.names.bucket }));
    await admin.ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/web' }));
    source = createSourceHandler({
      env: {},
      secrets: { get: async () => '', refresh: async () => undefined } as never,
      fetch: () => Promise.reject(new Error('no GitHub here')),
      logger: functionLogger('source-ecr-test'),
      s3: async () => new S3Client(fn),
      ecr: async () => new ECRClient(fn),
    });
  }, 60_000);
  afterAll(() => moto?.stop());

  it('resolves the tagged image with the planned role, and stores imageDetail.json as the artifact', async () => {
    // Prepare
    const pushed = await admin.ecr.send(new PutImageCommand({ repositoryName: 'team/web', imageTag: 'release', imageManifest: manifest('a') }));
    const digest = pushed.image?.imageId?.imageDigest ?? '';
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const request = task();
    // Act
    const { variables } = await source(request);
    // Assess
    expect(variables).toStrictEqual({
      RegistryId: ACCOUNT,
      RepositoryName: 'team/web',
      ImageTag: 'release',
      ImageDigest: digest,
      ImageURI: `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/web@${digest}`,
    });
    const detail = await admin.s3.send(new GetObjectCommand({ Bucket: plan.names.bucket, Key: `images/${request.executionId}/Img/imageDetail.json` }));
    expect(JSON.parse((await detail.Body?.transformToString()) ?? '{}')).toMatchObject({
      ImageURI: (variables as { ImageURI: string }).ImageURI,
      ImageDigest: digest,
      ImageTags: ['release'],
    });
    const stored = await admin.s3.send(new GetObjectCommand({ Bucket: plan.names.bucket, Key: `images/${request.executionId}/Img/manifest.json` }));
    expect(JSON.parse((await stored.Body?.transformToString()) ?? '{}').files.map((f: { path: string }) => f.path)).toStrictEqual(['imageDetail.json']);
    // moto checks only the action for ECR; the simulator checks the repository the role names.
    expect(
      await checkRequest(plan.functions.source.statements, {
        principal: 'source',
        action: 'ecr:DescribeImages',
        resource: `arn:aws:ecr:${TEST_REGION}:${ACCOUNT}:repository/team/web`,
      }),
    ).toStrictEqual([]);
    expect(
      await checkRequest(plan.functions.source.statements, {
        principal: 'source',
        action: 'ecr:DescribeImages',
        resource: `arn:aws:ecr:${TEST_REGION}:${ACCOUNT}:repository/other`,
      }),
    ).toHaveLength(1);
  });

  it('builds the digest the push event carried, even after the tag moved on', async () => {
    const first = await admin.ecr.send(new PutImageCommand({ repositoryName: 'team/web', imageTag: 'pushed', imageManifest: manifest('1') }));
    await admin.ecr.send(new PutImageCommand({ repositoryName: 'team/web', imageTag: 'release', imageManifest: manifest('2') }));
    const digest = first.image?.imageId?.imageDigest ?? '';
    const { variables } = await source(task({ repository: 'team/web', imageDigest: digest, imageTag: 'release' }));
    expect(variables).toMatchObject({ ImageDigest: digest });
  });

  it('fails the action, naming the image, when the tag has no image', async () => {
    await expect(source({ ...task(), imageTag: 'nope' })).rejects.toThrow(/ECR has no image tag nope in repository team\/web/);
  });

  it("creates the planned EventBridge rule, whose pattern matches ECR's push event of that repository and tag only", async () => {
    const [rule] = plan.imagePushes.rules;
    if (!rule) throw new Error('the plan has an image push rule');
    const seen = '/stepline/image-pushes';
    await admin.logs.send(new CreateLogGroupCommand({ logGroupName: seen }));
    await admin.events.send(new PutRuleCommand({ Name: rule.name, EventPattern: JSON.stringify(rule.eventPattern) }));
    await admin.events.send(
      new PutTargetsCommand({
        Rule: rule.name,
        Targets: [
          {
            Id: 'pipeline',
            Arn: rule.stateMachineArn,
            RoleArn: `arn:aws:iam::${ACCOUNT}:role/image-push`,
            InputTransformer: { InputPathsMap: rule.inputPaths, InputTemplate: rule.inputTemplate },
          },
        ],
      }),
    );
    // moto fails a PutEvents whose matching rule targets a state machine: the same pattern, watched by a log group.
    await admin.events.send(new PutRuleCommand({ Name: `${rule.name}-seen`, EventPattern: JSON.stringify(rule.eventPattern) }));
    await admin.events.send(
      new PutTargetsCommand({ Rule: `${rule.name}-seen`, Targets: [{ Id: 'seen', Arn: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${seen}` }] }),
    );
    const targets = (await admin.events.send(new ListTargetsByRuleCommand({ Rule: rule.name }))).Targets ?? [];
    expect(targets.map((t) => t.Arn)).toStrictEqual([rule.stateMachineArn]);
    expect(targets.find((t) => t.Id === 'pipeline')?.InputTransformer?.InputTemplate).toBe(rule.inputTemplate);
    const cases = {
      pushed: pushEvent({}),
      otherTag: pushEvent({ 'image-tag': 'latest' }),
      failed: pushEvent({ result: 'FAILURE' }),
      deleted: pushEvent({ 'action-type': 'DELETE' }),
      otherRepository: pushEvent({ 'repository-name': 'team/other' }),
    };
    await admin.events.send(new RemoveTargetsCommand({ Rule: rule.name, Ids: ['pipeline'] }));
    await admin.events.send(
      new PutEventsCommand({
        Entries: Object.entries(cases).map(([name, e]) => ({
          Source: e.source,
          DetailType: e['detail-type'],
          Detail: JSON.stringify({ ...e.detail, case: name }),
        })),
      }),
    );
    const delivered = (await admin.logs.send(new FilterLogEventsCommand({ logGroupName: seen }))).events ?? [];
    expect(delivered.map((e) => JSON.parse(e.message ?? '{}').detail.case)).toStrictEqual(['pushed']);

    // The transformer's output, as EventBridge fills the template (each value a JSON string), is an execution input.
    const event = pushEvent({});
    const input = transformed(rule, event);
    expect(ExecutionInputSchema.parse(input)).toStrictEqual({
      pipeline: 'images',
      trigger: { type: 'CloudWatchEvent', deliveryId: event.id, event: 'ECR Image Action' },
      source: { repository: 'team/web', imageDigest: event.detail['image-digest'], imageTag: 'release' },
      variables: {},
    });
    expect(plan.imagePushes.statements).toStrictEqual([{ Effect: 'Allow', Action: ['states:StartExecution'], Resource: [rule.stateMachineArn] }]);
  });

  it("starts the compiled machine with the transformer's input, and its source action builds the pushed digest", async () => {
    const [rule] = plan.imagePushes.rules;
    const machine = plan.stateMachines.find((m) => m.arn === rule?.stateMachineArn);
    if (!rule || !machine) throw new Error('the plan has an image push rule and its state machine');
    // Prepare: the pushed image, then a newer push of the tag before the execution's source action runs.
    // (moto drops an image once its last tag moves away, where ECR keeps it untagged: a second tag keeps it.)
    await admin.ecr.send(new PutImageCommand({ repositoryName: 'team/web', imageTag: 'candidate', imageManifest: manifest('7') }));
    const pushed = await admin.ecr.send(new PutImageCommand({ repositoryName: 'team/web', imageTag: 'release', imageManifest: manifest('7') }));
    const digest = pushed.image?.imageId?.imageDigest ?? '';
    const newer = await admin.ecr.send(new PutImageCommand({ repositoryName: 'team/web', imageTag: 'release', imageManifest: manifest('9') }));
    expect(newer.image?.imageId?.imageDigest).not.toBe(digest);
    const input = ExecutionInputSchema.parse(transformed(rule, pushEvent({ 'image-digest': digest })));
    const sourceState = Object.entries(machine.compiled.stateMap).find(([, info]) => info.kind === 'source' && info.role === 'action')?.[0] ?? '';
    const seen: unknown[] = [];
    // Act
    const outcome = await execute(machine.compiled.definition, {
      input,
      executionName: 'push-13cde686',
      handlers: stubHandlers(machine.compiled, {
        [sourceState]: async (task) => {
          const answer = await source((task as { Payload: unknown }).Payload);
          seen.push(answer.variables);
          return { Payload: answer };
        },
      }),
    }).outcome;
    // Assess
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'SUCCEEDED' });
    expect(seen).toMatchObject([{ ImageDigest: digest, ImageURI: `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/web@${digest}` }]);
  });
});
