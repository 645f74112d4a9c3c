/**
 * An automatic ROLLBACK on AWS, with the conditions function's real code against moto_server, IAM
 * enforced: it signs as a user holding exactly the statements the installation plans for its role.
 *
 * The pipeline is installed as `sst deploy` installs it (manifest in S3, tagged machine). A good
 * execution runs on moto (its Tasks as Pass states, so its history is moto's own, with the states'
 * inputs); its source artifact is where the source function puts it. The failing execution
 * is the compiled machine run in the local engine, named as on AWS, its `Deploy · roll back` Task
 * calling the function, which reads the good execution through moto's ListExecutions,
 * GetExecutionHistory, DescribeStateMachineForExecution and S3, and copies its artifacts in moto's S3.
 * moto 5.2.1 runs one execution per server (a second StartExecution is a 500), so StartExecution alone
 * is answered by aws-sdk-client-mock as Step Functions answers it (see docs/testing.md); the rollback
 * execution it was asked for is then run in the local engine. The CLI's `rollback-stage --target aws`
 * reads the same history through the same code.
 */
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type StartExecutionCommandInput,
} from '@aws-sdk/client-sfn';
import { type ExecutionInput, gateStateName, parsePipeline, rollbackInput } from '@stepline/core';
import { execute } from '@stepline/local';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { AwsBackend } from '../../packages/cli/src/aws/backend';
import { createConditionsHandler } from '../../packages/functions/src/handlers/conditions';
import { storeArtifact } from '../../packages/functions/src/source/store';
import type { InstallationPlan } from '../../stacks/plan';
import { planForMoto } from '../../stacks/plan-fixture';
import { BOOTSTRAP_REQUESTS, enforceIam } from '../helpers/moto-iam';
import { motoForSuite, motoSkipReason } from '../helpers/moto-server';
import { installOnMoto } from '../helpers/moto-sfn';
import { failWith, noWaits, type StubCall, stubHandlers } from '../helpers/stub-handlers';
import { until } from '../helpers/until';

const skip = motoSkipReason();

const pipeline = parsePipeline({
  name: 'web',
  stages: [
    { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['Src'] }] },
    {
      name: 'Deploy',
      onFailure: { result: 'ROLLBACK' },
      actions: [{ name: 'Ship', kind: 'invoke', function: 'ship', inputArtifacts: ['Src'] }],
    },
    { name: 'Announce', actions: [{ name: 'Tell', kind: 'invoke', function: 'tell' }] },
  ],
});
const START: ExecutionInput = { pipeline: 'web', trigger: { type: 'StartPipelineExecution', actor: 'ana' }, source: {}, variables: {} };

describe.skipIf(skip)('automatic ROLLBACK on AWS: the conditions function against moto_server, IAM enforced', () => {
  const moto = motoForSuite({ freeRequests: BOOTSTRAP_REQUESTS });
  let plan: InstallationPlan;
  let admin: { s3: S3Client; sfn: SFNClient };
  let machineArn: string;
  let rollbackClients: { s3: S3Client; sfn: SFNClient };
  let cliClients: { s3: S3Client; sfn: SFNClient };
  let goodArn: string;
  /** StartExecution as Step Functions answers it: a name is taken once. */
  const started = new Map<string, StartExecutionCommandInput>();
  /** moto runs one execution; every later StartExecution is answered here (`send.callThrough()` for the rest). */
  const startHere = (client: SFNClient) => {
    const sfnMock = mockClient(client);
    sfnMock.send.callThrough();
    sfnMock.on(StartExecutionCommand).callsFake(async (input: StartExecutionCommandInput) => {
      if (started.has(input.name ?? '')) throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${input.name}'`, $metadata: {} });
      started.set(input.name ?? '', input);
      return { executionArn: `${machineArn.replace(':stateMachine:', ':execution:')}:${input.name}`, startDate: new Date() };
    });
  };
  /** The good execution's state data at Deploy's entry, from moto's history. */
  const goodAtDeploy = async () => {
    const history = (await admin.sfn.send(new GetExecutionHistoryCommand({ executionArn: goodArn, includeExecutionData: true }))).events ?? [];
    return JSON.parse(history.find((e) => e.stateEnteredEventDetails?.name === gateStateName('Deploy'))?.stateEnteredEventDetails?.input ?? '');
  };
  const read = async (key: string) =>
    (await (await admin.s3.send(new GetObjectCommand({ Bucket: plan.names.bucket, Key: key }))).Body?.transformToString()) ?? '';

  beforeAll(async () => {
    await moto().configure({ stepfunctions: { execute_state_machine: true } });
    const iam = await enforceIam(moto());
    plan = planForMoto([pipeline]);
    admin = { s3: new S3Client(iam.config(iam.admin)), sfn: new SFNClient(iam.config(iam.admin)) };
    await admin.s3.send(new CreateBucketCommand({ Bucket: plan.names.bucket }));
    const [machine] = plan.stateMachines;
    if (!machine) throw new Error('no machine planned');
    machineArn = await installOnMoto(admin, machine, plan.names.bucket);
    const keys = await iam.makeUser('conditions', plan.functions.conditions.statements);
    rollbackClients = { s3: new S3Client(iam.config(keys)), sfn: new SFNClient(iam.config(keys)) };
    cliClients = { s3: new S3Client(iam.config(iam.admin)), sfn: new SFNClient(iam.config(iam.admin)) };
    startHere(rollbackClients.sfn);
    startHere(cliClients.sfn);

    // good-1 runs on moto; its source artifact is where the source function puts it. (A build's output,
    // which has no manifest, is listed: moto refuses a ListObjectsV2 whose prefix holds a `/` when IAM is
    // enforced, so that copy is tested in packages/cli/src/aws/backend.test.ts.)
    await admin.sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn, name: 'good-1', input: JSON.stringify(START) }));
    goodArn = `${machineArn.replace(':stateMachine:', ':execution:')}:good-1`;
    await until(
      'good-1 to succeed',
      async () => ((await admin.sfn.send(new DescribeExecutionCommand({ executionArn: goodArn }))).status === 'SUCCEEDED' ? true : undefined),
      20_000,
    );
    await storeArtifact({ s3: admin.s3, bucket: plan.names.bucket, pipeline: 'web', executionId: 'good-1', artifact: 'Src' }, async () => [
      { path: 'index.html', data: new TextEncoder().encode('<h1>good</h1>') },
    ]);
  }, 60_000);

  it('rolls the failed stage back to the last execution that succeeded through it, once, with that execution’s artifacts', async () => {
    const bucket = plan.names.bucket;
    const conditions = createConditionsHandler({
      cloudwatch: () => {
        throw new Error('no alarm rule here');
      },
      lambda: () => {
        throw new Error('no function rule here');
      },
      codebuild: () => {
        throw new Error('no commands rule here');
      },
      s3: () => rollbackClients.s3,
      bucket: () => bucket,
      projectPrefix: () => plan.names.prefix,
      rollback: { sfn: () => rollbackClients.sfn, s3: () => rollbackClients.s3, env: { ARTIFACT_BUCKET: bucket } },
    });
    const rollBack = async (input: unknown) => ({ Payload: await conditions((input as { Payload: { request: 'rollback' } }).Payload) });
    const compiled = plan.stateMachines[0]?.compiled;
    if (!compiled) throw new Error('no machine planned');

    // Act: bad-1 fails in Deploy; its roll back Task calls the function.
    const calls: StubCall[] = [];
    const bad = await execute(compiled.definition, {
      input: START,
      executionName: 'bad-1',
      stateMachineId: machineArn,
      handlers: stubHandlers(compiled, { 'Deploy · Ship': failWith('Stepline.ActionFailed', 'health check failed'), 'Deploy · roll back': rollBack }, calls),
      waitTimeOverrides: noWaits(compiled),
    }).outcome;

    // Assess: bad-1 fails naming its rollback; one execution was started, with good-1's state at Deploy.
    expect(bad).toStrictEqual({
      status: 'FAILED',
      error: 'Stepline.ActionFailed',
      cause: 'Stage Deploy, action Ship failed: health check failed; rolled back by execution bad-1-rollback to the state of execution good-1',
    });
    expect(calls.some((c) => c.state === 'Announce · Tell')).toBe(false);
    expect([...started.keys()]).toStrictEqual(['bad-1-rollback']);
    const request = started.get('bad-1-rollback');
    expect(request?.stateMachineArn).toBe(machineArn);
    const input = JSON.parse(request?.input ?? '{}');
    expect(input).toStrictEqual(rollbackInput('Deploy', 'good-1', await goodAtDeploy(), 'bad-1', { type: 'AutomatedRollback' }));
    expect(await read('web/bad-1-rollback/Src/index.html')).toBe('<h1>good</h1>');
    expect(await read('web/bad-1-rollback/Src/manifest.json')).toBe(await read('web/good-1/Src/manifest.json'));

    // Act: the Task retried (Lambda and Step Functions both retry) starts nothing more.
    const again = await rollBack({ Payload: { request: 'rollback', pipeline: 'web', stage: 'Deploy', executionId: 'bad-1', stateMachineArn: machineArn } });
    expect(again).toStrictEqual({ Payload: { rollbackExecution: 'bad-1-rollback', targetExecution: 'good-1' } });
    expect([...started.keys()]).toStrictEqual(['bad-1-rollback']);

    // Act: the rollback execution runs the stage alone, reading the artifacts copied under its own name.
    const rollbackCalls: StubCall[] = [];
    const shipped: string[] = [];
    const rollback = await execute(compiled.definition, {
      input,
      executionName: 'bad-1-rollback',
      stateMachineId: machineArn,
      handlers: stubHandlers(
        compiled,
        {
          'Deploy · Ship': async (call) => {
            for (const artifact of (call as { Payload: { inputArtifacts: Array<{ location: string }> } }).Payload.inputArtifacts)
              shipped.push(artifact.location);
            return { Payload: {} };
          },
        },
        rollbackCalls,
      ),
      waitTimeOverrides: noWaits(compiled),
    }).outcome;
    expect(rollback.status).toBe('SUCCEEDED');
    expect(rollbackCalls.map((c) => c.state)).toStrictEqual(['Deploy · enter stage', 'Deploy · Ship']);
    expect(shipped).toStrictEqual([`${bucket}/web/bad-1-rollback/Src/`]);
  });

  it('rollback-stage --target aws: the CLI finds the same execution in moto’s history and starts the stage alone with it', async () => {
    const backend = new AwsBackend({ ...cliClients, stage: 'team', actor: 'ana', now: () => new Date('2026-12-05T00:00:00Z'), random: () => 0.5 });

    const rolled = await backend.rollbackStage('web', 'Deploy', {});

    expect(rolled).toStrictEqual({ executionId: 'rollback-Deploy-20261205T000000Z-7fffffff', targetExecution: 'good-1' });
    const input = JSON.parse(started.get(rolled.executionId)?.input ?? '{}');
    expect(input).toStrictEqual(rollbackInput('Deploy', 'good-1', await goodAtDeploy(), undefined, { type: 'ManualRollback', actor: 'ana' }));
    expect(await read(`web/${rolled.executionId}/Src/index.html`)).toBe('<h1>good</h1>');
    await expect(backend.rollbackStage('web', 'Source', {})).rejects.toThrow(
      'rollback-stage: stage Source is the source stage: there is nothing to roll back to',
    );
  });
});
