import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { ConditionCheckPayload, Rule } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createConditionsHandler } from './conditions';

const cloudwatch = mockClient(CloudWatchClient);
const lambda = mockClient(LambdaClient);
const handler = createConditionsHandler({ cloudwatch: () => new CloudWatchClient({}), lambda: () => new LambdaClient({}) });

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

  it('refuses a Commands rule, saying why', async () => {
    await expect(handler(check([{ name: 'Smoke', provider: 'Commands', commands: ['true'] }]))).rejects.toThrow('Commands rules run on one machine only');
  });
});
