/**
 * A codedeploy action as AWS runs it: the compiled machine executed locally, its Tasks calling the
 * real code-deploy function, which finds the instances by tag in moto_server's EC2, sends the
 * lifecycle through moto's SSM Run Command and reads the revision from moto's S3, signing as a user
 * holding exactly the planned role (IAM enforced). moto runs no command (every invocation answers
 * Success at once), so failures, hosts still running and the rollback are answered by
 * aws-sdk-client-mock in place of SSM. What moto does not authorize (EC2, SSM resources) is checked
 * with the IAM simulator.
 */
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  compilePipeline,
  type ExecutionInput,
  installationCompileOptions,
  lastGoodRevisionKey,
  type Pipeline,
  parsePipeline,
  validateStateMachine,
} from '@stepline/core';
import { execute } from '@stepline/local';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCodeDeployHandler } from '../packages/functions/src/handlers/code-deploy';
import { functionLogger } from '../packages/functions/src/runtime';
import { storeArtifact } from '../packages/functions/src/source/store';
import { planInstallation } from '../stacks/plan';
import { checkRequests, describeDenials } from './helpers/iam-check';
import { motoAdmin, motoUser } from './helpers/moto-iam';
import { MOTO_ACCOUNT, MOTO_REGION, type MotoServer, motoSkipReason, startMoto } from './helpers/moto-server';
import { stubHandlers } from './helpers/stub-handlers';

const skip = motoSkipReason();
const REGION = MOTO_REGION;
const ACCOUNT = MOTO_ACCOUNT;
const APPSPEC = `version: 0.0
os: linux
files:
  - source: /
    destination: /var/www/app
hooks:
  ApplicationStop: [{ location: scripts/stop.sh, timeout: 60 }]
  AfterInstall: [{ location: scripts/migrate.sh, timeout: 300, runas: app }]
  ValidateService: [{ location: scripts/validate.sh, timeout: 30 }]
`;
const REVISION: Record<string, string> = {
  'appspec.yml': APPSPEC,
  'index.html': '<h1>v</h1>\n',
  'scripts/stop.sh': 'true\n',
  'scripts/migrate.sh': 'true\n',
  'scripts/validate.sh': 'true\n',
};

const pipelineWith = (deploymentConfig: string): Pipeline =>
  parsePipeline({
    name: 'inplace',
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['Src'] }] },
      {
        name: 'Deploy',
        actions: [{ name: 'Web', kind: 'codedeploy', inputArtifacts: ['Src'], deploymentConfig, ec2: { tagFilters: [{ key: 'App', value: 'web' }] } }],
      },
    ],
  });

describe.skipIf(skip)('codedeploy on AWS: the compiled machine, the code-deploy function, moto_server', () => {
  let moto: MotoServer;
  let admin: { s3: S3Client; ec2: EC2Client; ssm: SSMClient; iam: IAMClient };
  let instances: string[];
  let statements: ReturnType<typeof planInstallation>['functions']['code-deploy']['statements'];
  let clients: { s3: S3Client; ec2: EC2Client; ssm: SSMClient };
  let sent: Array<{ DocumentName?: string; InstanceIds?: string[]; Parameters?: Record<string, string[]>; Comment?: string }> = [];
  /** What the machine handed the function: each Task's payload. */
  let payloads: Array<{ operation: string; deployment?: { deadline?: string } }> = [];
  /** Commands of one deployment phase: their comment reads `<marker> <pipeline> <deployment id> batch <n>`. */
  // A deployment's id is `d-<execution>-<action and attempt hash>`.
  const ofDeployment = (deployment: string) => (c: { Comment?: string }) => new RegExp(` ${deployment}-[0-9a-f]{10} batch `).test(c.Comment ?? '');
  const sentFor = (deployment: string) => sent.filter(ofDeployment(deployment));
  const options = installationCompileOptions({ stage: 'team', region: REGION, accountId: ACCOUNT });
  const bucket = options.artifactBucket ?? '';
  const config = (credentials: { accessKeyId: string; secretAccessKey: string }) => ({
    endpoint: moto.endpoint,
    region: REGION,
    credentials,
    maxAttempts: 1,
    forcePathStyle: true,
  });

  beforeAll(async () => {
    // The first three requests are free: they make the administrator.
    moto = await startMoto({ freeRequests: 3 });
    const a = config(await motoAdmin((k) => new IAMClient(config(k))));
    admin = { s3: new S3Client(a), ec2: new EC2Client(a), ssm: new SSMClient(a), iam: new IAMClient(a) };

    const plan = planInstallation({
      stage: 'team',
      region: REGION,
      accountId: ACCOUNT,
      pipelines: [pipelineWith('CodeDeployDefault.OneAtATime')],
      secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']),
    });
    statements = plan.functions['code-deploy'].statements;
    const c = config(await motoUser(admin.iam, 'code-deploy', statements));
    clients = { s3: new S3Client(c), ec2: new EC2Client(c), ssm: new SSMClient(c) };
    // moto keeps each command, but with every instance of the account added to its InstanceIds (with
    // no Targets it matches all of them): what the function asked is recorded here instead.
    clients.ssm.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { DocumentName?: string; InstanceIds?: string[]; Parameters?: Record<string, string[]>; Comment?: string };
        if (input.DocumentName) sent.push(input);
        return next(args);
      },
      { step: 'initialize', name: 'recordSendCommand' },
    );

    await admin.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const tagged = (value: string, count: number) =>
      admin.ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-12c6146b',
          MinCount: count,
          MaxCount: count,
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'App', Value: value }] }],
        }),
      );
    instances = ((await tagged('web', 3)).Instances ?? []).map((i) => i.InstanceId ?? '').sort();
    await tagged('api', 1);
  }, 60_000);
  afterAll(() => moto?.stop());

  /**
   * A revision stored by the source function's own writer (files, then the manifest). With the manifest
   * the function lists no keys, which moto could not serve here: with IAM enforced, moto 5.2.1 refuses
   * the signature of a ListObjectsV2 whose prefix holds a `/` (docs/testing.md).
   */
  async function storeRevision(executionId: string, files: Record<string, string>) {
    await storeArtifact({ s3: admin.s3, bucket, pipeline: 'inplace', executionId, artifact: 'Src' }, async () =>
      Object.entries(files).map(([path, text]) => ({ path, data: new TextEncoder().encode(text) })),
    );
  }

  /** Runs the compiled machine; with `answersLost`, each code-deploy Task runs twice, as a retry after a lost answer does. */
  async function run(pipeline: Pipeline, executionId: string, answersLost = false) {
    const compiled = compilePipeline(pipeline, options);
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    const handler = createCodeDeployHandler({ clients: () => clients, env: { ARTIFACT_BUCKET: bucket }, logger: functionLogger('code-deploy-test') });
    const call = async (input: unknown) => {
      const payload = (input as { Payload: unknown }).Payload;
      payloads.push(payload as (typeof payloads)[number]);
      if (answersLost) await handler(payload);
      return { Payload: await handler(payload) };
    };
    const overrides = Object.fromEntries(
      Object.entries(compiled.stateMap)
        .filter(([, info]) => info.kind === 'codedeploy')
        .map(([state]) => [state, call]),
    );
    const input: ExecutionInput = { pipeline: 'inplace', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} };
    const waits = Object.fromEntries(
      Object.keys(compiled.stateMap)
        .filter((n) => n.endsWith(' · wait'))
        .map((n) => [n, 0]),
    );
    const running = execute(compiled.definition, { input, executionName: executionId, handlers: stubHandlers(compiled, overrides), waitTimeOverrides: waits });
    return running.outcome;
  }

  const lastGood = async () => {
    const object = await admin.s3.send(new GetObjectCommand({ Bucket: bucket, Key: lastGoodRevisionKey('inplace', 'Deploy', 'Web') }));
    return JSON.parse((await object.Body?.transformToString()) ?? '');
  };

  beforeEach(async () => {
    sent = [];
    payloads = [];
    await storeRevision('exec-1', REVISION);
  });

  it('deploys OneAtATime to the tagged instances, one SSM command each, and records the revision as the last good one', async () => {
    const started = Date.now();
    const outcome = await run(pipelineWith('CodeDeployDefault.OneAtATime'), 'exec-1');
    // Start recorded the deadline of the whole deployment (the action sets no timeoutMinutes: an hour), which advance is given.
    const deadline = Date.parse(payloads.find((p) => p.operation === 'advance')?.deployment?.deadline ?? '');
    expect(deadline - started).toBeGreaterThanOrEqual(60 * 60_000);
    expect(deadline - Date.now()).toBeLessThanOrEqual(60 * 60_000);
    expect(outcome.status).toBe('SUCCEEDED');
    expect((outcome.output as { actions: Record<string, unknown> }).actions.Deploy_Web).toStrictEqual({
      output: { deploymentId: expect.stringMatching(/^d-exec-1-[0-9a-f]{10}$/), instances, failedInstances: [] },
    });
    const commands = sentFor('d-exec-1');
    expect(commands.map((c) => c.InstanceIds)).toStrictEqual(instances.map((i) => [i]));
    // moto took each one (and answers its invocations Success).
    const kept = (await admin.ssm.send(new ListCommandsCommand({}))).Commands ?? [];
    expect(kept.filter(ofDeployment('d-exec-1'))).toHaveLength(3);
    const script = commands[0]?.Parameters?.commands?.[0] ?? '';
    expect(commands[0]?.DocumentName).toBe('AWS-RunShellScript');
    // Every script's timeout and a 10-minute margin for download and copy.
    expect(commands[0]?.Parameters?.executionTimeout).toStrictEqual([String(60 + 300 + 30 + 600)]);
    expect(script).toContain(`aws s3 cp --recursive --only-show-errors 's3://${bucket}/inplace/exec-1/Src/' "$ARCHIVE"`);
    expect(script).toContain(`place 'index.html' '/var/www/app/index.html'`);
    // The instance checks what it downloaded against the manifest the source function wrote.
    const manifest = JSON.parse(
      (await (await admin.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'inplace/exec-1/Src/manifest.json' }))).Body?.transformToString()) ?? '',
    ) as { files: Array<{ path: string; sha256: string }> };
    for (const f of manifest.files) expect(script).toContain(`\n${f.sha256}  ${f.path}\n`);
    expect(script).toContain(`hook AfterInstall "$ARCHIVE" 'scripts/migrate.sh' 300 'app'`);
    expect(script).toContain(`hook ValidateService "$ARCHIVE" 'scripts/validate.sh' 30 ''`);
    // The first deployment has no last good revision: no stop scripts to run.
    expect(script).not.toContain('hook ApplicationStop');
    expect(await lastGood()).toStrictEqual({ location: `${bucket}/inplace/exec-1/Src/`, executionId: 'exec-1' });

    // What moto does not authorize, as IAM would: the first reads of keys that may not exist yet (the
    // last good revision, the artifact's manifest: a 403 without s3:ListBucket), the lookup, the command
    // on each tagged instance, the results.
    const requests = [
      {
        principal: 'code-deploy',
        action: 's3:GetObject',
        resource: `arn:aws:s3:::${bucket}/${lastGoodRevisionKey('inplace', 'Deploy', 'Web')}`,
        mayBeMissing: true,
      },
      { principal: 'code-deploy', action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/inplace/exec-1/Src/manifest.json`, mayBeMissing: true },
      { principal: 'code-deploy', action: 'ec2:DescribeInstances', resource: '*' },
      { principal: 'code-deploy', action: 'ssm:SendCommand', resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:document/AWS-RunShellScript` },
      ...instances.map((i) => ({
        principal: 'code-deploy',
        action: 'ssm:SendCommand',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${i}`,
        context: { 'ssm:resourceTag/App': 'web' },
      })),
      { principal: 'code-deploy', action: 'ssm:GetCommandInvocation', resource: '*' },
    ];
    expect(describeDenials(await checkRequests(() => statements, requests))).toBe('');
    // An instance without the tag may not be sent a command.
    const untagged = await checkRequests(
      () => statements,
      [
        {
          principal: 'code-deploy',
          action: 'ssm:SendCommand',
          resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123`,
          context: { 'ssm:resourceTag/App': 'api' },
        },
      ],
    );
    expect(untagged).toHaveLength(1);
  }, 60_000);

  it("a second deployment runs the last good revision's stop scripts; HalfAtATime of three keeps two healthy, so one at a time", async () => {
    expect((await run(pipelineWith('CodeDeployDefault.AllAtOnce'), 'exec-1')).status).toBe('SUCCEEDED');
    await storeRevision('exec-2', REVISION);
    expect((await run(pipelineWith('CodeDeployDefault.HalfAtATime'), 'exec-2')).status).toBe('SUCCEEDED');
    const commands = sentFor('d-exec-2');
    // Three instances at 50%: two must stay healthy (rounded up), so one at a time.
    expect(commands.map((c) => c.InstanceIds?.length)).toStrictEqual([1, 1, 1]);
    expect(commands[0]?.Parameters?.commands?.[0]).toContain(`hook ApplicationStop "$PREVIOUS" 'scripts/stop.sh' 60 ''`);
    expect((await lastGood()).executionId).toBe('exec-2');
  }, 60_000);

  it('sends no batch twice when a Task runs again after its answer was lost: the batch is found by its comment', async () => {
    await storeRevision('exec-5', REVISION);
    const outcome = await run(pipelineWith('CodeDeployDefault.OneAtATime'), 'exec-5', true);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(sentFor('d-exec-5').map((c) => c.InstanceIds)).toStrictEqual(instances.map((i) => [i]));
    const kept = (await admin.ssm.send(new ListCommandsCommand({}))).Commands ?? [];
    expect(kept.filter(ofDeployment('d-exec-5'))).toHaveLength(3);
    expect(describeDenials(await checkRequests(() => statements, [{ principal: 'code-deploy', action: 'ssm:ListCommands', resource: '*' }]))).toBe('');
  }, 60_000);

  describe('SSM answered by aws-sdk-client-mock (moto runs no command)', () => {
    it('rolls back to the last good revision on the instances it touched when a host fails ValidateService', async () => {
      expect((await run(pipelineWith('CodeDeployDefault.OneAtATime'), 'exec-1')).status).toBe('SUCCEEDED');
      await storeRevision('exec-3', REVISION);
      const ssm = mockClient(SSMClient);
      try {
        ssm.on(ListCommandsCommand).resolves({ Commands: [] });
        let sent = 0;
        const scripts: Array<{ hosts: string[]; script: string }> = [];
        ssm.on(SendCommandCommand).callsFake((input) => {
          scripts.push({ hosts: input.InstanceIds, script: input.Parameters.commands[0] });
          return { Command: { CommandId: `cmd-${++sent}` } };
        });
        let polls = 0;
        ssm.on(GetCommandInvocationCommand).callsFake((input) => {
          polls++;
          // The first look finds the first host still running; the second host fails its health check.
          if (input.CommandId === 'cmd-1' && polls === 1) return { Status: 'InProgress' };
          if (input.CommandId === 'cmd-2') return { Status: 'Failed', StandardErrorContent: 'ValidateService: scripts/validate.sh exited with 3\n' };
          return { Status: 'Success' };
        });
        const outcome = await run(pipelineWith('CodeDeployDefault.OneAtATime'), 'exec-3');
        expect(outcome.status).toBe('FAILED');
        expect(outcome.error).toBe('Stepline.DeploymentRolledBack');
        expect(outcome.cause).toContain(
          `1 of 3 instances failed, 2 must succeed (${instances[1]}: ValidateService: scripts/validate.sh exited with 3); rolled back to the revision of execution exec-1`,
        );
        // OneAtATime: a host other than the last failed, so the third is never deployed; the last good
        // revision goes back to the two touched, one at a time.
        expect(scripts.map((s) => s.hosts)).toStrictEqual([[instances[0]], [instances[1]], [instances[0]], [instances[1]]]);
        expect(scripts[2]?.script).toContain(`'s3://${bucket}/inplace/exec-1/Src/'`);
        expect(scripts[2]?.script).toMatch(/d-exec-3-[0-9a-f]{10}-rollback/);
        expect((await lastGood()).executionId).toBe('exec-1');
      } finally {
        ssm.restore();
      }
    }, 60_000);

    it('fails without a rollback when no revision ever succeeded, naming the instance and its error', async () => {
      await admin.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: lastGoodRevisionKey('inplace', 'Deploy', 'Web') }));
      await storeRevision('exec-4', REVISION);
      const ssm = mockClient(SSMClient);
      try {
        ssm.on(ListCommandsCommand).resolves({ Commands: [] });
        ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-x' } });
        ssm.on(GetCommandInvocationCommand).resolves({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
        const outcome = await run(pipelineWith('CodeDeployDefault.AllAtOnce'), 'exec-4');
        expect(outcome.status).toBe('FAILED');
        expect(outcome.error).toBe('Stepline.ActionFailed');
        expect(outcome.cause).toContain(
          `3 of 3 instances failed, 1 must succeed (${instances.map((i) => `${i}: TimedOut (ExecutionTimedOut)`).join('; ')}); no earlier revision deployed successfully, so there is nothing to roll back to`,
        );
      } finally {
        ssm.restore();
      }
    }, 60_000);
  });
});
