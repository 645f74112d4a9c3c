/**
 * The CLI's AWS backend against moto_server, with the gate function's real code on the path: a pipeline
 * compiled for AWS is installed in moto (its manifest in S3, its state machine tagged as `sst deploy`
 * tags it), started with `start-pipeline-execution`, held by a disabled transition, shown held by
 * `get-pipeline-state` from moto's execution history, and released by `enable-stage-transition`.
 *
 * moto runs neither Lambda nor CodeBuild Tasks: action Tasks become Pass states of the same names, and
 * each gate Task publishes its compiled Payload to an SNS topic (`sns:publish.waitForTaskToken`, which
 * moto runs) delivered to an HTTP endpoint here that calls the gate function's dispatch, as Lambda would.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { compilePipeline, type JsonObject, type Pipeline, parsePipeline, type State, type StateMachineDefinition } from '@stepline/core';
import { GateService, S3GateStore, SfnTaskResponder } from '@stepline/functions/gates';
import { readBody } from '@stepline/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsBackend } from '../../packages/cli/src/aws/backend';
import { webPipeline } from '../../packages/cli/src/aws/test-fixtures';
import { dispatchGateEvent } from '../../packages/functions/src/gates/events';
import { pipelineManifest } from '../../stacks/manifest';
import type { StateMachinePlan } from '../../stacks/plan';
import { expectHeldAtDeploy } from '../helpers/held';
import { type MotoServer, motoClientConfig, motoSkipReason, startMoto } from '../helpers/moto-server';
import { until } from '../helpers/until';

const skip = motoSkipReason();
const BUCKET = 'stepline-team-artifacts';

/** The CLI tests' `web` pipeline without its approval and Deploy's conditions (moto runs no check Task): Source, Build, Deploy. */
const pipeline: Pipeline = parsePipeline({
  ...webPipeline,
  stages: webPipeline.stages.filter((s) => s.name !== 'Approve').map(({ beforeEntry: _entry, onSuccess: _success, ...stage }) => stage),
});

/**
 * The compiled machine, made runnable by moto: gate Tasks publish their Payload and wait for the token,
 * other Tasks become Pass states; names, order and transitions stay as compiled.
 */
function runnableOnMoto(definition: StateMachineDefinition, bridgeTopic: string): JsonObject {
  const convert = (states: Record<string, State>): Record<string, JsonObject> =>
    Object.fromEntries(
      Object.entries(states).map(([name, state]): [string, JsonObject] => {
        const flow: JsonObject = 'Next' in state && state.Next ? { Next: state.Next } : 'End' in state && state.End ? { End: true } : {};
        if (state.Type === 'Task' && name.endsWith(' · enter stage')) {
          const payload = (state.Parameters as { Payload: JsonObject }).Payload;
          return [
            name,
            {
              Type: 'Task',
              Resource: 'arn:aws:states:::sns:publish.waitForTaskToken',
              Parameters: { TopicArn: bridgeTopic, Message: payload },
              ResultPath: null,
              TimeoutSeconds: 300,
              ...flow,
            },
          ];
        }
        if (state.Type === 'Task' || state.Type === 'Pass') return [name, { Type: 'Pass', ...flow }];
        if (state.Type === 'Fail') return [name, { Type: 'Fail', Error: 'Stepline.Failed' }];
        return [name, state as unknown as JsonObject];
      }),
    );
  return { StartAt: definition.StartAt, States: convert(definition.States) };
}

describe.skipIf(skip)('AwsBackend on moto_server: Step Functions history and S3', () => {
  let moto: MotoServer;
  let server: Server;
  let base: string;
  let clients: { s3: S3Client; sfn: SFNClient; sns: SNSClient };
  const gateCalls: Array<Promise<unknown>> = [];
  let gates: GateService;

  const read = (req: IncomingMessage) => readBody(req, 1024 * 1024);

  beforeAll(async () => {
    moto = await startMoto();
    await moto.configure({ stepfunctions: { execute_state_machine: true } });
    const config = motoClientConfig(moto);
    clients = { s3: new S3Client(config), sfn: new SFNClient(config), sns: new SNSClient(config) };
    gates = new GateService({
      store: new S3GateStore({ s3: clients.s3, bucket: BUCKET }),
      responder: new SfnTaskResponder(clients.sfn),
      warn: () => undefined,
    });
    server = createServer((req, res) => {
      read(req).then((body) => {
        // The gate function, invoked with the gate Task's Payload (task token included).
        const envelope = JSON.parse(body) as { Message: string };
        gateCalls.push(dispatchGateEvent(JSON.parse(envelope.Message), { service: gates, stateMachinePrefix: 'stepline-team-' }));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await moto?.stop();
  });

  it('holds an execution at a disabled transition, shows it held, and releases it on enable', async () => {
    // Prepare: install the pipeline as `sst deploy` would (tags, manifest), runnable by moto.
    const compiled = compilePipeline(pipeline, { target: 'aws', region: 'us-east-1', accountId: '123456789012', artifactBucket: BUCKET });
    await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const bridge = await clients.sns.send(new CreateTopicCommand({ Name: 'gate-bridge' }));
    await clients.sns.send(new SubscribeCommand({ TopicArn: bridge.TopicArn, Protocol: 'http', Endpoint: `${base}/gate` }));
    const plan = { pipeline, name: 'stepline-team-web', compiled, manifestKey: '_stepline/pipelines/web.json' } as StateMachinePlan;
    await clients.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: plan.manifestKey,
        Body: JSON.stringify(pipelineManifest(plan, 'team', BUCKET)),
        ContentType: 'application/json',
      }),
    );
    await clients.sfn.send(
      new CreateStateMachineCommand({
        name: 'stepline-team-web',
        definition: JSON.stringify(runnableOnMoto(compiled.definition, bridge.TopicArn ?? '')),
        roleArn: 'arn:aws:iam::123456789012:role/stepline-team-web',
        tags: [
          { key: 'stepline:pipeline', value: 'web' },
          { key: 'stepline:installation', value: 'team' },
          { key: 'stepline:manifest', value: `s3://${BUCKET}/${plan.manifestKey}` },
        ],
      }),
    );
    const backend = new AwsBackend({ sfn: clients.sfn, s3: clients.s3, stage: 'team', actor: 'ana' });
    expect((await backend.listPipelines()).map((p) => [p.name, p.executionMode])).toStrictEqual([['web', 'QUEUED']]);

    // Act: disable Deploy's transition, then run.
    await backend.disableStageTransition('web', 'Deploy', 'release freeze');
    const { executionId } = await backend.startExecution('web', { variables: { ENV: 'prod' }, clientRequestToken: 'delivery-1' });
    await until(
      'the execution to be held at Deploy',
      async () => {
        const object = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: '_stepline/gates/web.json' }));
        const document = JSON.parse((await object.Body?.transformToString()) ?? '{}');
        return document.state?.waiting?.Deploy ? true : undefined;
      },
      20_000,
    );

    // Assess: held, and shown as held, from moto's execution history through the state map
    const held = await backend.getPipelineState('web');
    expect(held).toMatchObject({ pipeline: 'web', executionId: 'delivery-1', status: 'InProgress' });
    expectHeldAtDeploy(held, 'release freeze');
    expect((await clients.sfn.send(new DescribeExecutionCommand({ executionArn: arnOf(executionId) }))).status).toBe('RUNNING');

    // Act: enable releases it
    await backend.enableStageTransition('web', 'Deploy');
    await until(
      'the execution to succeed',
      async () => {
        const status = (await clients.sfn.send(new DescribeExecutionCommand({ executionArn: arnOf(executionId) }))).status;
        return status === 'SUCCEEDED' ? status : undefined;
      },
      20_000,
    );
    await Promise.all(gateCalls);

    // Assess
    const after = await backend.getPipelineState('web');
    expect(after.stages.map((s) => [s.name, s.status, s.inboundTransition.enabled])).toStrictEqual([
      ['Source', 'Succeeded', true],
      ['Build', 'Succeeded', true],
      ['Deploy', 'Succeeded', true],
    ]);
    const listed = await backend.listExecutions('web');
    expect(listed).toMatchObject([{ executionId: 'delivery-1', pipeline: 'web', status: 'Succeeded', trigger: 'StartPipelineExecution' }]);
    const detail = await backend.getExecution('delivery-1');
    expect(detail).toMatchObject({ executionId: 'delivery-1', status: 'Succeeded', artifacts: [] });
  });

  const arnOf = (executionId: string) => `arn:aws:states:us-east-1:123456789012:execution:stepline-team-web:${executionId}`;
});
