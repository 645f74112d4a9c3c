import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type ConditionCheckPayload, parsePipeline, type Rule, rollbackInput } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createConditionsHandler } from './conditions';

const cloudwatch = mockClient(CloudWatchClient);
const lambda = mockClient(LambdaClient);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const handler = createConditionsHandler({
  cloudwatch: () => new CloudWatchClient({}),
  lambda: () => new LambdaClient({}),
  rollback: { sfn: () => new SFNClient({}), s3: () => new S3Client({}), env: { ARTIFACT_BUCKET: 'artifacts' } },
});

const check = (rules: ConditionCheckPayload['rules']): ConditionCheckPayload => ({
  pipeline: 'web',
  stage: 'Deploy',
  executionId: 'e-1',
  condition: 'onSuccess',
  rules,
});
const alarmRule: Rule = { name: 'Errors', provider: 'CloudWatchAlarm', alarmName: 'web-5xx', alarmStates: ['ALARM'], waitTimeMinutes: 0 };

beforeEach(() => {
  cloudwatch.reset();
  lambda.reset();
  sfn.reset();
  s3.reset();
});

describe('the conditions function', () => {
  it('reads the alarm with DescribeAlarms: in ALARM the rule is not met', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'web-5xx', StateValue: 'ALARM' }] });
    const result = await handler(check([alarmRule]));
    expect(result).toMatchObject({ status: 'NOT_MET', rule: 'Errors', reason: 'alarm web-5xx is ALARM' });
    expect(cloudwatch).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNames: ['web-5xx'], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] });
  });

  it('counts an alarm it cannot find as firing', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    expect(await handler(check([alarmRule]))).toMatchObject({ status: 'NOT_MET', reason: 'alarm web-5xx is ALARM' });
  });

  it('invokes a LambdaInvoke rule’s function: it passes unless the function fails', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce({ StatusCode: 200 })
      .resolvesOnce({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new TextEncoder().encode('{"errorMessage":"not ready"}') as never });
    const rule: Rule = { name: 'Preflight', provider: 'LambdaInvoke', functionName: 'preflight', userParameters: 'prod' };
    expect(await handler(check([rule]))).toMatchObject({ status: 'PASS' });
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'preflight' });
    expect(await handler(check([rule]))).toMatchObject({ status: 'NOT_MET', reason: 'preflight failed: {"errorMessage":"not ready"}' });
  });

  it('a retried roll back Task finds the rollback it started, named after the failed execution, and starts no second one', async () => {
    const machine = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stepline-team-web';
    const good = { input: { pipeline: 'web', trigger: { type: 'Webhook' as const }, source: {}, variables: {} } };
    const resume = rollbackInput('Deploy', 'good-1', good, 'bad-2', { type: 'AutomatedRollback' });
    sfn
      .on(DescribeExecutionCommand, { executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:stepline-team-web:bad-2-rollback' })
      .resolves({ name: 'bad-2-rollback', status: 'RUNNING', input: JSON.stringify(resume) });
    s3.onAnyCommand().callsFake(async () => ({ Body: { transformToString: async () => JSON.stringify(manifest) } }));
    const manifest = {
      version: 1,
      installation: 'team',
      pipeline: parsePipeline({
        name: 'web',
        stages: [
          { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['Src'] }] },
          { name: 'Deploy', actions: [{ name: 'Ship', kind: 'invoke', function: 'ship', inputArtifacts: ['Src'] }] },
        ],
      }),
      stateMap: {},
      stateMachineName: 'stepline-team-web',
      artifactBucket: 'artifacts',
      gatePrefix: '_stepline/gates/',
    };

    const answer = await handler({ request: 'rollback', pipeline: 'web', stage: 'Deploy', executionId: 'bad-2', stateMachineArn: machine });

    expect(answer).toStrictEqual({ rollbackExecution: 'bad-2-rollback', targetExecution: 'good-1' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(ListExecutionsCommand, 0);
  });

  it('refuses a rollback request that does not name the machine', async () => {
    await expect(handler({ request: 'rollback', pipeline: 'web', stage: 'Deploy', executionId: 'bad-2', stateMachineArn: 'local' })).rejects.toThrow(
      'not a rollback request: stateMachineArn: expected the state machine ARN ($$.StateMachine.Id)',
    );
  });

  it('refuses a Commands rule, saying why', async () => {
    await expect(handler(check([{ name: 'Smoke', provider: 'Commands', commands: ['true'] }]))).rejects.toThrow('Commands rules run on one machine only');
  });
});
