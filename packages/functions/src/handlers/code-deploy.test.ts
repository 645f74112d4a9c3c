/**
 * What moto cannot answer for the code-deploy function's SSM commands (it ignores ListCommands' filters
 * and has no CancelCommand; docs/testing.md): the filters sent, and the cancel of a stopped execution's
 * commands, with SSM faked by aws-sdk-client-mock. Sending a batch once is tested against moto in
 * test/codedeploy-aws.test.ts.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { CancelCommandCommand, InvalidCommandId, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingLogger } from '../../../../test/helpers/lambda-events';
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

    expect(await fleet.send(['i-1'], 'true', 60, batch('exec-7', 1))).toStrictEqual({ commandId: 'older', resent: false });
    expect(await fleet.send(['i-2'], 'true', 60, batch('exec-7', 2))).toStrictEqual({ commandId: 'new', resent: true });

    expect(ssm.commandCalls(ListCommandsCommand)[0]?.args[0].input.Filters).toStrictEqual([
      { key: 'DocumentName', value: 'AWS-RunShellScript' },
      { key: 'InvokedAfter', value: '2026-12-05T09:00:00.000Z' },
    ]);
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toStrictEqual([['i-2']]);
  });
});
