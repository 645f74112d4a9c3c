/**
 * A Lambda deployment on AWS, rehearsed: the compiled deploy action run by the local engine, each of
 * its Tasks calling the real canary handler, against moto_server's Lambda (versions, aliases and their
 * routing weights), CloudWatch and S3, with IAM enforced: the canary signs as a user holding exactly
 * its planned statements. moto runs hook functions without Docker (`use_docker: false`): an invocation
 * answers its own event, or the next answer queued through moto's API, which is how a hook fails here.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  GetAliasCommand,
  LambdaClient,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type DeployAction, ErrorName, type Pipeline, parsePipeline, zipStored } from '@stepline/core';
import { execute, taskStateNames } from '@stepline/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCanaryClients } from '../packages/functions/src/canary/index';
import { createCanaryHandler } from '../packages/functions/src/handlers/canary';
import { storeArtifact } from '../packages/functions/src/source/store';
import { type InstallationPlan, planInstallation } from '../stacks/plan';
import { lambdaContext } from './helpers/lambda-events';
import { BOOTSTRAP_REQUESTS, type EnforcedIam, enforceIam } from './helpers/moto-iam';
import { MOTO_ACCOUNT, type MotoServer, motoSkipReason, startMoto } from './helpers/moto-server';
import { stubHandlers } from './helpers/stub-handlers';

const skip = motoSkipReason();
const ACCOUNT = MOTO_ACCOUNT;
const code = (text: string) =>
  zipStored([{ path: 'index.mjs', data: new TextEncoder().encode(`export const handler = async () => ${JSON.stringify(text)};`) }]);

/** One pipeline per scenario, each deploying its own function: moto keeps no state a reset would not clear. */
function lambdaPipeline(name: string, action: Partial<DeployAction>): Pipeline {
  return parsePipeline({
    name,
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/orders', outputArtifacts: ['Src'] }] },
      {
        name: 'Deploy',
        actions: [
          { name: 'Shift', kind: 'deploy', inputArtifacts: ['Src'], terminationWaitMinutes: 0, lambda: { functionName: name, alias: 'live' }, ...action },
        ],
      },
    ],
  });
}

const PIPELINES = {
  canary: lambdaPipeline('orders-canary', {
    strategy: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
    checkIntervalSeconds: 300,
    hooks: { BeforeAllowTraffic: 'orders-pre', AfterAllowTraffic: 'orders-post' },
    alarms: ['orders-errors'],
  }),
  hookFails: lambdaPipeline('orders-hook', { strategy: 'CodeDeployDefault.LambdaAllAtOnce', hooks: { AfterAllowTraffic: 'orders-post' } }),
  alarm: lambdaPipeline('orders-alarm', { strategy: 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute', alarms: ['orders-alarm-errors'] }),
  firstDeployment: lambdaPipeline('orders-first', { hooks: { AfterAllowTraffic: 'orders-post' } }),
  // As imported from CodePipeline: the function, alias and versions come from the appspec in the artifact.
  appSpec: lambdaPipeline('orders-appspec', { strategy: 'CodeDeployDefault.LambdaAllAtOnce', lambda: {} }),
};

describe.skipIf(skip)('a Lambda deployment against moto_server (versions, alias weights, alarms), IAM enforced', () => {
  let moto: MotoServer;
  let iam: EnforcedIam;
  let plan: InstallationPlan;
  let admin: { lambda: LambdaClient; cloudwatch: CloudWatchClient };
  let clients: AwsCanaryClients;

  beforeAll(async () => {
    moto = await startMoto({ freeRequests: BOOTSTRAP_REQUESTS });
    await moto.configure({ lambda: { use_docker: false } });
    iam = await enforceIam(moto);
    const a = iam.config(iam.admin);
    admin = { lambda: new LambdaClient(a), cloudwatch: new CloudWatchClient(a) };
    plan = planInstallation({
      stage: 'team',
      region: 'us-east-1',
      accountId: ACCOUNT,
      pipelines: Object.values(PIPELINES),
      secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']),
    });
    await new S3Client(a).send(new CreateBucketCommand({ Bucket: plan.names.bucket }));
    await new IAMClient(a).send(new CreateRoleCommand({ RoleName: 'orders', AssumeRolePolicyDocument: '{}' }));
    const c = iam.config(await iam.makeUser('canary', plan.functions.canary.statements));
    clients = {
      ecs: new ECSClient(c),
      elb: new ElasticLoadBalancingV2Client(c),
      cloudwatch: new CloudWatchClient(c),
      lambda: new LambdaClient(c),
      s3: new S3Client(c),
    };
    for (const hook of ['orders-pre', 'orders-post']) await createFunction(hook, 'hook');
  }, 60_000);
  afterAll(() => moto?.stop());

  async function createFunction(FunctionName: string, text: string) {
    await admin.lambda.send(
      new CreateFunctionCommand({
        FunctionName,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: `arn:aws:iam::${ACCOUNT}:role/orders`,
        Code: { ZipFile: code(text) },
      }),
    );
  }

  /** What the team has before the pipeline runs: version 1 live behind the alias, new code in $LATEST. */
  async function liveFunction(name: string) {
    await createFunction(name, 'v1');
    const v1 = await admin.lambda.send(new PublishVersionCommand({ FunctionName: name }));
    await admin.lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: v1.Version, Description: 'what customers call' }));
    await admin.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: code('v2') }));
  }

  /** The function's errors alarm, as a team would watch a deployment with (it starts in OK). */
  const errorsAlarm = (AlarmName: string) =>
    admin.cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName,
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );

  /** What the next hook invocation answers (moto's Lambda without Docker). */
  async function queueHookAnswer(answer: unknown) {
    const queued = await fetch(`${moto.endpoint}/moto-api/static/lambda-simple/response`, {
      method: 'POST',
      body: JSON.stringify({ results: [JSON.stringify(answer)], region: 'us-east-1', account_id: ACCOUNT }),
    });
    expect(queued.ok).toBe(true);
  }

  const alias = async (name: string) => {
    const a = await admin.lambda.send(new GetAliasCommand({ FunctionName: name, Name: 'live' }));
    return { version: a.FunctionVersion, weights: a.RoutingConfig?.AdditionalVersionWeights ?? {}, description: a.Description };
  };

  /** Runs the pipeline's compiled machine; the deploy action's Tasks call the canary handler, as Step Functions would. */
  async function run(pipeline: Pipeline, executionId: string, afterStep: (operation: string) => Promise<void> = async () => undefined) {
    const machine = plan.stateMachines.find((m) => m.pipeline.name === pipeline.name);
    if (!machine) throw new Error(`no state machine for ${pipeline.name}`);
    const handler = createCanaryHandler({
      clients: () => clients,
      env: { ARTIFACT_BUCKET: plan.names.bucket, STATE_MACHINE_PREFIX: plan.names.stateMachine('') },
      logger: new Logger({ serviceName: 'stepline-canary-test', logLevel: 'SILENT' }),
      sleep: async () => undefined,
    });
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const state of taskStateNames(machine.compiled.definition).filter((s) => s.startsWith('Deploy · Shift'))) {
      overrides[state] = async (input) => {
        const payload = (input as { Payload: { operation: string } }).Payload;
        const result = await handler(payload, lambdaContext('stepline-team-canary'));
        await afterStep(payload.operation);
        return { Payload: result };
      };
    }
    const execution = execute(machine.compiled.definition, {
      input: { variables: {}, source: {} },
      executionName: executionId,
      handlers: stubHandlers(machine.compiled, overrides),
      waitTimeOverrides: { 'Deploy · Shift · bake': 1, 'Deploy · Shift · wait for termination': 1 },
    });
    return execution.outcome;
  }

  it('publishes the new version and shifts 10%, then the rest, reading the alias back after each shift', async () => {
    await liveFunction('orders-canary');
    await errorsAlarm('orders-errors');
    const seen: Array<Awaited<ReturnType<typeof alias>>> = [];

    const outcome = await run(PIPELINES.canary, 'exec-1', async (operation) => {
      if (operation === 'setWeight') seen.push(await alias('orders-canary'));
    });

    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'SUCCEEDED' });
    expect(seen.map(({ version, weights }) => ({ version, weights }))).toStrictEqual([
      { version: '1', weights: { '2': 0.1 } },
      { version: '2', weights: {} },
    ]);
    // Blue is forgotten once the deployment completes; the version itself stays, as CodeDeploy leaves it.
    expect(await alias('orders-canary')).toMatchObject({
      version: '2',
      weights: {},
      description: expect.stringMatching(/^what customers call stepline:[0-9a-f]{32} blue=none green=2$/),
    });
  });

  it('rolls back to 100% on the old version when the AfterAllowTraffic hook reports Failed', async () => {
    await liveFunction('orders-hook');
    await queueHookAnswer({ status: 'Failed' });
    const seen: Array<Awaited<ReturnType<typeof alias>>> = [];

    const outcome = await run(PIPELINES.hookFails, 'exec-2', async (operation) => {
      if (operation === 'finalize') seen.push(await alias('orders-hook'));
    });

    expect(seen).toMatchObject([{ version: '2', weights: {} }]);
    expect(outcome).toMatchObject({
      status: 'FAILED',
      error: ErrorName.DeploymentRolledBack,
      cause: expect.stringMatching(/rolled back after Stepline\.HookFailed: .*AfterAllowTraffic hook failed: orders-post answered \{"status":"Failed"\}/),
    });
    expect(await alias('orders-hook')).toStrictEqual({ version: '1', weights: {}, description: 'what customers call' });
  });

  it('creates the alias on a first deployment, and deletes it again when that deployment rolls back', async () => {
    await createFunction('orders-first', 'v1');
    await queueHookAnswer({ status: 'Failed' });
    const seen: Array<Awaited<ReturnType<typeof alias>>> = [];

    const outcome = await run(PIPELINES.firstDeployment, 'exec-5', async (operation) => {
      if (operation === 'prepare') seen.push(await alias('orders-first'));
    });

    expect(seen).toMatchObject([{ version: '1', weights: {} }]);
    expect(outcome).toMatchObject({ status: 'FAILED', error: ErrorName.DeploymentRolledBack });
    await expect(alias('orders-first')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('takes the function, alias, versions and hooks from the appspec in the input artifact, as CodeDeploy does', async () => {
    await liveFunction('orders-appspec');
    const v2 = await admin.lambda.send(new PublishVersionCommand({ FunctionName: 'orders-appspec' }));
    const appspec = `version: 0.0
Resources:
  - orders:
      Type: AWS::Lambda::Function
      Properties: { Name: orders-appspec, Alias: live, CurrentVersion: '1', TargetVersion: '${v2.Version}' }
Hooks:
  - BeforeAllowTraffic: orders-pre
  - AfterAllowTraffic: orders-post
`;
    // Stored as the source action stores its artifact (files, then the manifest), so the canary, with
    // its own role, reads the appspec checked against the manifest.
    await storeArtifact(
      { s3: new S3Client(iam.config(iam.admin)), bucket: plan.names.bucket, pipeline: 'orders-appspec', executionId: 'exec-4', artifact: 'Src' },
      async () => [{ path: 'appspec.yaml', data: new TextEncoder().encode(appspec) }],
    );
    // The definition names no hook: only the appspec's can answer, BeforeAllowTraffic first.
    await queueHookAnswer({ status: 'Succeeded' });
    await queueHookAnswer({ status: 'Failed' });
    const seen: Array<Awaited<ReturnType<typeof alias>>> = [];

    const outcome = await run(PIPELINES.appSpec, 'exec-4', async (operation) => {
      if (operation === 'finalize') seen.push(await alias('orders-appspec'));
    });

    expect(seen).toMatchObject([{ version: '2', weights: {} }]);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({
      status: 'FAILED',
      error: ErrorName.DeploymentRolledBack,
      cause: expect.stringMatching(/AfterAllowTraffic hook failed: orders-post answered \{"status":"Failed"\}/),
    });
    expect(await alias('orders-appspec')).toMatchObject({ version: '1', weights: {} });
  });

  it('rolls back at the first check when an alarm fires, the new version never above its first 10%', async () => {
    await liveFunction('orders-alarm');
    await errorsAlarm('orders-alarm-errors');
    const seen: Array<Awaited<ReturnType<typeof alias>>> = [];
    const outcome = await run(PIPELINES.alarm, 'exec-3', async (operation) => {
      if (operation !== 'setWeight') return;
      seen.push(await alias('orders-alarm'));
      await admin.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: 'orders-alarm-errors', StateValue: 'ALARM', StateReason: 'errors on version 2' }));
    });

    expect(seen.map((s) => s.weights)).toStrictEqual([{ '2': 0.1 }]);
    expect(outcome).toMatchObject({ status: 'FAILED', cause: expect.stringMatching(/Stepline\.CanaryAlarm: alarm orders-alarm-errors: errors on version 2/) });
    expect(await alias('orders-alarm')).toStrictEqual({ version: '1', weights: {}, description: 'what customers call' });
  });
});
