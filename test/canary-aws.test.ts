/**
 * The canary function against moto_server's ECS, ELBv2, CloudWatch and S3: an ECS service with the
 * EXTERNAL deployment controller, an ALB listener forwarding to two target groups, a CloudWatch alarm.
 * moto's task sets are always STEADY_STATE and never register targets, so health is "steady, no
 * target unhealthy" here. Hook functions are faked with aws-sdk-client-mock (moto's Lambda needs Docker).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, DescribeTaskSetsCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, ElasticLoadBalancingV2Client, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type DeploymentRecord, deploymentPlan, ErrorName, type PlanStep } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AwsCanaryClients, deploymentId } from '../packages/functions/src/canary/index';
import { createCanaryHandler } from '../packages/functions/src/handlers/canary';
import { createEcsFixture, ecsSettingsFor } from './helpers/ecs-fixture';
import { type MotoServer, motoClientConfig, motoSkipReason, startMoto } from './helpers/moto-server';

const skip = motoSkipReason();
/** A Lambda answer's payload, as the SDK hands it over. */
const blob = (text: string) => Object.assign(new TextEncoder().encode(text), { transformToString: () => text });
const BUCKET = 'stepline-artifacts';

interface Fixture {
  listenerArn: string;
  blueTg: string;
  greenTg: string;
  subnets: string[];
  securityGroup: string;
  blueTaskSetArn: string;
}

describe.skipIf(skip)('the canary function against moto_server (ECS, ELBv2, CloudWatch, S3)', () => {
  let moto: MotoServer;
  let clients: AwsCanaryClients;
  let fx: Fixture;

  beforeAll(async () => {
    moto = await startMoto();
    const config = motoClientConfig(moto);
    clients = {
      ecs: new ECSClient(config),
      elb: new ElasticLoadBalancingV2Client(config),
      cloudwatch: new CloudWatchClient(config),
      lambda: new LambdaClient(config),
      s3: new S3Client(config),
    };
  });
  afterAll(() => moto?.stop());

  /** moto's EC2 over its query API (the project has no EC2 client): default subnets and a security group. */
  async function ec2(params: Record<string, string>): Promise<string> {
    const res = await fetch(`${moto.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: new URLSearchParams({ Version: '2016-11-15', ...params }),
    });
    return res.text();
  }

  beforeEach(async () => {
    await moto.reset();
    fx = await createEcsFixture({ ec2, ecs: clients.ecs, elb: clients.elb, cloudwatch: clients.cloudwatch, blueTaskDefinition: taskDefinition('web:1') });
    await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  function taskDefinition(image: string) {
    // moto needs `memory` on every container definition.
    return {
      family: 'web',
      networkMode: 'awsvpc' as const,
      requiresCompatibilities: ['FARGATE' as const],
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'web', image, memory: 512, essential: true, portMappings: [{ containerPort: 8080 }] }],
    };
  }

  /** The build's artifact in S3 as CodeBuild uploads `artifacts.files` (packaging NONE): its files, and no stepline manifest. */
  async function writeArtifact(executionId: string, image: string): Promise<void> {
    const files = {
      'taskdef.json': JSON.stringify({ ...taskDefinition('<IMAGE1_NAME>'), executionRoleArn: '' }),
      'imageDetail.json': JSON.stringify({ ImageURI: image }),
    };
    const prefix = `web/${executionId}/Build/`;
    for (const [path, body] of Object.entries(files)) await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${path}`, Body: body }));
  }

  const silent = new Logger({ serviceName: 'stepline-canary-test', logLevel: 'SILENT' });
  const handler = () =>
    createCanaryHandler({
      clients: () => clients,
      env: { ARTIFACT_BUCKET: BUCKET, STATE_MACHINE_PREFIX: 'stepline-' },
      logger: silent,
      sleep: async () => undefined,
      healthPollMs: 1,
    });
  const context = { getRemainingTimeInMillis: () => 120_000 };

  const HOOKS = { BeforeAllowTraffic: 'validate-health' };
  function payload(executionId: string, step: PlanStep | 'cleanup' | 'rollback', reason?: string) {
    return {
      pipeline: 'web',
      stage: 'Deploy',
      action: 'Canary',
      executionId,
      operation: typeof step === 'string' ? step : step.type,
      ...(typeof step !== 'string' && { step }),
      ...(reason !== undefined && { reason }),
      deployment: {
        alarms: ['web-5xx'],
        hooks: HOOKS,
        terminationWaitMinutes: 5,
        ecs: {
          ...ecsSettingsFor(fx),
          assignPublicIp: false,
          taskDefinitionFile: 'taskdef.json',
        },
      },
      inputArtifact: { name: 'Build', location: `${BUCKET}/web/${executionId}/Build/` },
    };
  }
  // One alarm check per bake keeps the test short; the check interval changes only how many there are.
  const PLAN = deploymentPlan(
    { strategy: 'CodeDeployDefault.ECSCanary10Percent5Minutes', hooks: HOOKS },
    { checkIntervalSeconds: 300, testTraffic: false },
  ).filter((s) => s.type !== 'wait');
  const run = (executionId: string, step: PlanStep | 'cleanup' | 'rollback', reason?: string) => handler()(payload(executionId, step, reason), context);

  /** What there is on AWS: task sets by role, the listener's weights, the deployment record. */
  async function state(executionId: string) {
    const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'prod', services: ['web'] }))).services?.[0];
    const taskSets = (await clients.ecs.send(new DescribeTaskSetsCommand({ cluster: 'prod', service: 'web' }))).taskSets ?? [];
    const actions = (await clients.elb.send(new DescribeListenersCommand({ ListenerArns: [fx.listenerArn] }))).Listeners?.[0]?.DefaultActions ?? [];
    const weights = Object.fromEntries(
      (actions[0]?.ForwardConfig?.TargetGroups ?? []).map((g) => [g.TargetGroupArn === fx.blueTg ? 'blueTg' : 'greenTg', g.Weight]),
    );
    const green = taskSets.find((ts) => ts.externalId === deploymentId({ pipeline: 'web', stage: 'Deploy', action: 'Canary', executionId }));
    let record: DeploymentRecord | undefined;
    try {
      const object = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `_stepline/deployments/web/${executionId}/Deploy/Canary.json` }));
      record = JSON.parse((await object.Body?.transformToString()) ?? '') as DeploymentRecord;
    } catch {
      record = undefined;
    }
    return {
      taskSets: taskSets.map((ts) => ({
        role: ts.taskSetArn === fx.blueTaskSetArn ? 'blue' : ts === green ? 'green' : 'other',
        status: ts.status,
        targetGroup: ts.loadBalancers?.[0]?.targetGroupArn === fx.blueTg ? 'blueTg' : 'greenTg',
        image: ts.taskDefinition,
      })),
      primary: service?.taskSets?.find((ts) => ts.status === 'PRIMARY')?.taskSetArn === fx.blueTaskSetArn ? 'blue' : green ? 'green' : 'none',
      weights,
      record: record?.status,
    };
  }

  it('runs a full canary from 10% to 100%: green primary, blue deleted, the listener at 0/100', async () => {
    // Prepare
    await writeArtifact('exec-1', '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2');
    const lambda = mockClient(clients.lambda);
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: blob('{"status":"Succeeded"}') });
    const seen: Array<Record<string, number | undefined>> = [];
    try {
      // Act
      for (const step of PLAN) {
        await run('exec-1', step);
        if (step.type === 'setWeight') seen.push((await state('exec-1')).weights);
      }
      const beforeCleanup = await state('exec-1');
      await expect(run('exec-1', 'cleanup')).resolves.toMatchObject({ operation: 'cleanup', status: 'Succeeded' });
      // Assess
      expect(seen).toStrictEqual([
        { blueTg: 90, greenTg: 10 },
        { blueTg: 0, greenTg: 100 },
      ]);
      expect(beforeCleanup).toMatchObject({
        primary: 'green',
        record: 'Finalized',
        taskSets: [
          { role: 'blue', status: 'ACTIVE' },
          { role: 'green', status: 'PRIMARY' },
        ],
      });
      expect(await state('exec-1')).toStrictEqual({
        taskSets: [{ role: 'green', status: 'PRIMARY', targetGroup: 'greenTg', image: expect.stringMatching(/task-definition\/web:2$/) }],
        primary: 'green',
        weights: { blueTg: 0, greenTg: 100 },
        record: 'Succeeded',
      });
      expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'validate-health', InvocationType: 'RequestResponse' });
    } finally {
      lambda.restore();
    }
  });

  it('rolls back when an alarm goes into ALARM during the bake: listener 100/0 for blue, green deleted, blue primary', async () => {
    await writeArtifact('exec-2', 'web:2');
    const lambda = mockClient(clients.lambda);
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: blob('{}') });
    try {
      for (const step of PLAN.slice(0, 3)) await run('exec-2', step); // prepare, hook, 10%
      await clients.cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'web-5xx', StateValue: 'ALARM', StateReason: 'Threshold Crossed: 1 datapoint [9.0] > 5.0' }),
      );

      await expect(run('exec-2', { type: 'checkAlarms' })).rejects.toMatchObject({
        name: ErrorName.CanaryAlarm,
        message: 'alarm web-5xx: Threshold Crossed: 1 datapoint [9.0] > 5.0',
      });
      const cause = JSON.stringify({ errorType: ErrorName.CanaryAlarm, errorMessage: 'alarm web-5xx: Threshold Crossed: 1 datapoint [9.0] > 5.0' });
      await expect(run('exec-2', 'rollback', cause)).resolves.toMatchObject({
        status: 'RolledBack',
        cause: 'alarm web-5xx: Threshold Crossed: 1 datapoint [9.0] > 5.0',
      });

      expect(await state('exec-2')).toStrictEqual({
        taskSets: [{ role: 'blue', status: 'PRIMARY', targetGroup: 'blueTg', image: expect.stringMatching(/web:1$/) }],
        primary: 'blue',
        weights: { blueTg: 100, greenTg: 0 },
        record: 'RolledBack',
      });
    } finally {
      lambda.restore();
    }
  });

  it('leaves the same state when any step is called twice, rollback included', async () => {
    await writeArtifact('exec-3', 'web:3');
    const lambda = mockClient(clients.lambda);
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: blob('{}') });
    try {
      for (const step of [...PLAN, 'cleanup' as const]) {
        await run('exec-3', step);
        const once = await state('exec-3');
        await run('exec-3', step);
        expect(await state('exec-3'), JSON.stringify(step)).toStrictEqual(once);
      }
      // A rollback after cleanup finds a finished deployment and leaves it.
      const done = await state('exec-3');
      await run('exec-3', 'rollback', 'late');
      await run('exec-3', 'rollback', 'late');
      expect(await state('exec-3')).toStrictEqual(done);

      // The next deployment puts green on the other target group, and its rollback twice is one rollback.
      await writeArtifact('exec-4', 'web:4');
      await run('exec-4', { type: 'prepare' });
      await run('exec-4', { type: 'setWeight', weight: 10 });
      const shifted = await state('exec-4');
      expect(shifted.taskSets.find((ts) => ts.role === 'green')).toMatchObject({ targetGroup: 'blueTg', status: 'ACTIVE' });
      expect(shifted.weights).toStrictEqual({ blueTg: 10, greenTg: 90 });
      await run('exec-4', 'rollback', 'stopped');
      const rolledBack = await state('exec-4');
      await run('exec-4', 'rollback', 'stopped');
      expect(await state('exec-4')).toStrictEqual(rolledBack);
      expect(rolledBack).toMatchObject({ weights: { blueTg: 0, greenTg: 100 }, record: 'RolledBack' });
      expect(rolledBack.taskSets).toHaveLength(1);
    } finally {
      lambda.restore();
    }
  });

  it('rolls back a failing BeforeAllowTraffic hook before any production traffic moves', async () => {
    await writeArtifact('exec-5', 'web:5');
    const lambda = mockClient(clients.lambda);
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: blob(JSON.stringify({ errorType: 'Error', errorMessage: 'GET /health answered 503' })),
    });
    const send = vi.spyOn(clients.elb, 'send');
    try {
      await run('exec-5', { type: 'prepare' });
      await expect(run('exec-5', { type: 'hook', hook: 'BeforeAllowTraffic' })).rejects.toMatchObject({
        name: ErrorName.HookFailed,
        message: 'BeforeAllowTraffic hook failed: validate-health failed: GET /health answered 503',
      });
      await run('exec-5', 'rollback', 'BeforeAllowTraffic hook failed');

      const modified = send.mock.calls.map(([command]) => command).filter((c) => c instanceof ModifyListenerCommand);
      expect(modified).toStrictEqual([]);
      expect(await state('exec-5')).toMatchObject({ primary: 'blue', weights: { blueTg: 100, greenTg: 0 }, record: 'RolledBack' });
      expect((await state('exec-5')).taskSets).toHaveLength(1);
    } finally {
      send.mockRestore();
      lambda.restore();
    }
  });

  it('rolls back what a stopped execution left in flight, from EventBridge’s status change', async () => {
    await writeArtifact('exec-6', 'web:6');
    await run('exec-6', { type: 'prepare' });
    await run('exec-6', { type: 'setWeight', weight: 10 });
    const event = (status: string) => ({
      version: '0',
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:stepline-web:exec-6',
        stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:stepline-web',
        name: 'exec-6',
        status,
        input: null,
      },
    });

    await expect(handler()(event('RUNNING'), context)).resolves.toStrictEqual({ ignored: 'status RUNNING leaves deployments as they are' });
    await expect(handler()(event('ABORTED'), context)).resolves.toMatchObject({ aborted: [{ status: 'RolledBack', cause: 'the execution ended ABORTED' }] });
    expect(await state('exec-6')).toMatchObject({ primary: 'blue', weights: { blueTg: 100, greenTg: 0 }, record: 'RolledBack' });
    await expect(handler()(event('ABORTED'), context)).resolves.toStrictEqual({ aborted: [] });
    await expect(run('exec-6', { type: 'setWeight', weight: 50 })).rejects.toMatchObject({ name: ErrorName.DeploymentRolledBack });
    expect((await state('exec-6')).weights).toStrictEqual({ blueTg: 100, greenTg: 0 });
  });
});
