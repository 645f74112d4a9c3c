/**
 * What moto cannot answer for the code-deploy function's SSM commands (it ignores ListCommands' filters
 * and has no CancelCommand; docs/testing.md): the filters sent, and the cancel of a stopped execution's
 * commands, with SSM faked by aws-sdk-client-mock. Sending a batch once is tested against moto in
 * test/codedeploy-aws.test.ts.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { CancelCommandCommand, GetCommandInvocationCommand, InvalidCommandId, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DefinitionError, type InPlaceDeployment, SERVER_DEPLOYMENT_CONFIGS, startDeployment } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../../test/helpers/lambda-events';
import { CodeDeployTaskSchema, inPlaceDeploymentId, runCodeDeployTask } from '../codedeploy/in-place';
import { type CommandBatch, SsmFleet } from '../codedeploy/ssm-fleet';
import { createCodeDeployHandler } from './code-deploy';

const ssm = mockClient(SSMClient);
afterEach(() => ssm.reset());

const PREFIX = 'stepline-team-';
const MACHINE = `arn:aws:states:eu-west-1:123456789012:stateMachine:${PREFIX}inplace`;
const batch = (executionId: string, n: number): CommandBatch => ({
  pipeline: 'inplace',
  executionId,
  deploymentId: `d-${executionId}`,
  batch: n,
  label: `inplace d-${executionId} batch ${n}`,
});

/** The comment the function gives a batch's command, taken from a real send (the SSM mock is reset after). */
async function commentOf(b: CommandBatch): Promise<string> {
  ssm.on(ListCommandsCommand).resolves({ Commands: [] });
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'x' } });
  await new SsmFleet(new EC2Client({}), new SSMClient({})).send(['i-1'], 'true', 60, b);
  const comment = ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Comment ?? '';
  ssm.reset();
  return comment;
}

const handler = () =>
  createCodeDeployHandler({
    clients: () => ({ s3: new S3Client({}), ec2: new EC2Client({}), ssm: new SSMClient({}) }),
    env: { ARTIFACT_BUCKET: 'artifacts', STATE_MACHINE_PREFIX: PREFIX },
    logger: recordingLogger('code-deploy').logger,
  });

const statusChange = (name: string, status: string) => ({
  version: '0',
  source: 'aws.states',
  'detail-type': 'Step Functions Execution Status Change',
  detail: { executionArn: `${MACHINE.replace(':stateMachine:', ':execution:')}:${name}`, stateMachineArn: MACHINE, name, status, input: null },
});

describe('the code-deploy function and SSM commands', () => {
  it('cancels the commands a stopped execution left pending or running, and no one else’s', async () => {
    // Prepare
    const first = await commentOf(batch('exec-7', 1));
    const second = await commentOf(batch('exec-7', 2));
    const other = await commentOf(batch('exec-8', 1));
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        { CommandId: 'done', Comment: first, Status: 'Success' },
        { CommandId: 'running', Comment: second, Status: 'InProgress' },
        { CommandId: 'another-execution', Comment: other, Status: 'InProgress' },
        { CommandId: 'not-ours', Comment: 'patching', Status: 'Pending' },
      ],
    });
    ssm.on(CancelCommandCommand).resolves({});
    // Act
    const result = await handler()(statusChange('exec-7', 'ABORTED'));
    // Assess
    expect(result).toStrictEqual({ cancelled: ['running'] });
    expect(ssm.commandCalls(ListCommandsCommand)[0]?.args[0].input.Filters).toStrictEqual([{ key: 'ExecutionStage', value: 'Executing' }]);
    expect(ssm.commandCalls(CancelCommandCommand).map((c) => c.args[0].input)).toStrictEqual([{ CommandId: 'running' }]);
  });

  it('takes a command that finished before its cancel as cancelled, and leaves a succeeded execution alone', async () => {
    const comment = await commentOf(batch('exec-9', 1));
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'late', Comment: comment, Status: 'InProgress' }] });
    ssm.on(CancelCommandCommand).rejects(new InvalidCommandId({ message: 'finished', $metadata: {} }));
    expect(await handler()(statusChange('exec-9', 'TIMED_OUT'))).toStrictEqual({ cancelled: [] });

    ssm.resetHistory();
    expect(await handler()(statusChange('exec-9', 'SUCCEEDED'))).toStrictEqual({ ignored: 'status SUCCEEDED leaves commands as they are' });
    expect(ssm.commandCalls(ListCommandsCommand)).toHaveLength(0);
  });

  it('looks for a batch already sent among the last hour’s AWS-RunShellScript commands, and sends it when there is none', async () => {
    const comment = await commentOf(batch('exec-7', 1));
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'older', Comment: comment, Status: 'Success' }] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'new' } });
    const now = Date.parse('2026-12-05T10:00:00Z');
    const fleet = new SsmFleet(new EC2Client({}), new SSMClient({}), () => now);

    expect(await fleet.send(['i-1'], 'true', 60, batch('exec-7', 1))).toStrictEqual({ commandIds: ['older'], resent: false });
    expect(await fleet.send(['i-2'], 'true', 60, batch('exec-7', 2))).toStrictEqual({ commandIds: ['new'], resent: true });

    expect(ssm.commandCalls(ListCommandsCommand)[0]?.args[0].input.Filters).toStrictEqual([
      { key: 'DocumentName', value: 'AWS-RunShellScript' },
      { key: 'InvokedAfter', value: '2026-12-05T09:00:00Z' },
    ]);
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toStrictEqual([['i-2']]);
  });

  it('sends a batch of 51 hosts as two commands, 50 and 1, each found again by its own marker when the Task is retried', async () => {
    const hosts = Array.from({ length: 51 }, (_, i) => `i-${String(i).padStart(3, '0')}`);
    const first = await commentOf(batch('exec-7', 1));
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    let n = 0;
    ssm.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++n}` } }));
    const fleet = new SsmFleet(new EC2Client({}), new SSMClient({}));

    expect(await fleet.send(hosts, 'true', 60, batch('exec-7', 1))).toStrictEqual({ commandIds: ['cmd-1', 'cmd-2'], resent: true });
    const calls = ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.InstanceIds)).toStrictEqual([hosts.slice(0, 50), hosts.slice(50)]);
    expect(calls[0]?.Comment).not.toBe(calls[1]?.Comment);

    // A retry after only the first chunk was sent sends the second alone.
    ssm.reset();
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'cmd-1', Comment: calls[0]?.Comment ?? '', Status: 'InProgress' }] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-3' } });
    expect(await fleet.send(hosts, 'true', 60, batch('exec-7', 1))).toStrictEqual({ commandIds: ['cmd-1', 'cmd-3'], resent: true });
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toStrictEqual([hosts.slice(50)]);
    // The first chunk's marker is the batch's own, as a one-chunk batch sends it.
    expect(calls[0]?.Comment?.split(' ')[0]).toBe(first.split(' ')[0]);
  });

  it('asks for each host of a large batch a few at a time, under its own chunk’s command, and takes throttling as transient', async () => {
    const hosts = Array.from({ length: 60 }, (_, i) => `i-${String(i).padStart(3, '0')}`);
    let inFlight = 0;
    let most = 0;
    const asked: Array<[string, string]> = [];
    ssm.on(GetCommandInvocationCommand).callsFake(async (input) => {
      inFlight++;
      most = Math.max(most, inFlight);
      asked.push([input.CommandId, input.InstanceId]);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return { Status: 'Success' };
    });
    const fleet = new SsmFleet(new EC2Client({}), new SSMClient({}));

    const results = await fleet.results(['cmd-a', 'cmd-b'], hosts);
    expect(results).toStrictEqual(hosts.map((host) => ({ host, state: 'done', ok: true })));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(8);
    expect(new Set(asked.filter(([c]) => c === 'cmd-b').map(([, h]) => h))).toStrictEqual(new Set(hosts.slice(50)));

    ssm.reset();
    ssm.on(GetCommandInvocationCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(fleet.results(['cmd-a'], ['i-1'])).rejects.toMatchObject({ name: 'Stepline.Transient', message: expect.stringContaining('throttled') });
  });
});

describe('an in-place deployment’s id, from which its SSM commands are found again', () => {
  it('is one per action of an execution: a retried start finds its commands, another action does not', () => {
    const of = (stage: string, action: string) => inPlaceDeploymentId({ executionId: 'exec-7', stage, action });
    expect(of('Staging', 'Web')).toMatch(/^d-exec-7-[0-9a-f]{10}$/);
    expect(of('Staging', 'Web')).toBe(of('Staging', 'Web'));
    expect(new Set([of('Staging', 'Web'), of('Prod', 'Web'), of('Staging', 'Api')]).size).toBe(3);
  });
});

describe('an in-place deployment in flight, handed back to advance', () => {
  const started = Date.parse('2026-12-05T10:00:00Z');
  const deployment = (): InPlaceDeployment => ({
    ...startDeployment({
      deploymentId: 'd-exec-7',
      revision: { location: 'artifacts/inplace/exec-7/Src/', executionId: 'exec-7' },
      autoRollback: true,
      hosts: ['i-1', 'i-2'],
      minimumHealthyHosts: SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.AllAtOnce'],
      pollSeconds: 15,
      limit: { startedAt: started, timeoutMinutes: 30 },
    }),
    commands: ['cmd-1'],
  });
  const advance = (deployment: unknown) => ({
    pipeline: 'inplace',
    stage: 'Deploy',
    action: 'Web',
    executionId: 'exec-7',
    operation: 'advance',
    spec: {
      applicationName: 'inplace',
      deploymentGroupName: 'Web',
      appspec: 'appspec.yml',
      minimumHealthyHosts: { type: 'HOST_COUNT', value: 0 },
      autoRollback: true,
      pollSeconds: 15,
      timeoutMinutes: 30,
      ec2: { tagFilters: [{ key: 'App', value: 'web' }], instanceIds: [] },
    },
    revision: { name: 'Src', location: 'artifacts/inplace/exec-7/Src/' },
    deployment,
  });

  it('fails once timeoutMinutes have passed since start, cancelling the batch’s commands, even while hosts never answered', async () => {
    ssm.on(GetCommandInvocationCommand).rejects(Object.assign(new Error('no invocation'), { name: 'InvocationDoesNotExist' }));
    ssm.on(CancelCommandCommand).resolves({});
    let now = started + 29 * 60_000;
    const run = (d: InPlaceDeployment) =>
      runCodeDeployTask(CodeDeployTaskSchema.parse(advance(d)), {
        s3: new S3Client({}),
        fleet: new SsmFleet(new EC2Client({}), new SSMClient({})),
        bucket: 'artifacts',
        log: () => undefined,
        now: () => now,
      });

    // Within the limit, hosts SSM has not registered are still running.
    expect(await run(deployment())).toMatchObject({ status: 'InProgress', commands: ['cmd-1'] });
    now = started + 30 * 60_000;
    await expect(run(deployment())).rejects.toMatchObject({
      name: 'Stepline.ActionFailed',
      message: 'deployment exceeded timeoutMinutes 30 (it had until 2026-12-05T10:30:00.000Z); the commands still running on i-1, i-2 were cancelled',
    });
    expect(ssm.commandCalls(CancelCommandCommand).map((c) => c.args[0].input)).toStrictEqual([{ CommandId: 'cmd-1' }]);
  });

  it('takes a deployment started before commands were chunked, its one command as the batch’s', () => {
    const { commands: _, ...rest } = deployment();
    const parsed = CodeDeployTaskSchema.parse(advance({ ...rest, command: 'cmd-old' }));
    expect(parsed.deployment?.commands).toStrictEqual(['cmd-old']);
  });

  it('refuses a malformed deployment, naming what is wrong and where', async () => {
    const broken = { ...deployment(), batches: [['i-1', 7]], phase: 'redeploy' };
    const error = await handler()(advance(broken)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DefinitionError);
    expect((error as Error).message).toContain('deployment.batches.0.1');
    expect((error as Error).message).toContain('deployment.phase');
  });
});
