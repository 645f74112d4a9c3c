import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext, recordingLogger } from '../../../../test/helpers/lambda-events';
import { makeNotifyHandler, notifyDependencies } from './notify';

const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
const sm = mockClient(SecretsManagerClient);

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stepline-web';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:stepline-web:d-1';
const input = {
  pipeline: 'web',
  trigger: { type: 'Webhook', deliveryId: 'd-1', event: 'push' },
  source: { repository: 'acme/web', commitId: 'abcdef0123456789', branchName: 'main', commitMessage: 'Ship it\n\nmore' },
  variables: {},
};

const statusChange = (detail: Record<string, unknown>) => ({
  version: '0',
  id: 'e-1',
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  account: '123456789012',
  time: '2026-03-01T10:00:00Z',
  region: 'eu-west-1',
  resources: [EXECUTION],
  detail: { executionArn: EXECUTION, stateMachineArn: MACHINE, name: 'd-1', startDate: 1, stopDate: 2, input: JSON.stringify(input), ...detail },
});

function setup(env: Record<string, string> = {}) {
  const { logger } = recordingLogger('notify');
  const fetch = vi.fn(async () => new Response('ok', { status: 200 }));
  const deps = notifyDependencies({ NOTIFICATION_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:notices', ...env });
  return { handler: makeNotifyHandler({ ...deps, logger, fetch }), fetch };
}

describe('notify handler', () => {
  beforeEach(() => {
    sfn.reset();
    sns.reset();
    sm.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'https://hooks.slack.com/services/T/B/x' });
  });

  it('tells the topic which stage and action failed, with the commit and a link to the execution', async () => {
    const { handler } = setup();
    const result = await handler(
      statusChange({ status: 'FAILED', error: 'Stepline.BuildFailed', cause: 'Stage Build, action Unit failed: {"errorMessage":"3 tests failed"}' }),
      lambdaContext(),
    );
    expect(result).toStrictEqual({ notified: ['sns'] });
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: 'arn:aws:sns:eu-west-1:123456789012:notices',
      Subject: 'stepline web: FAILED at Build / Unit',
      MessageStructure: 'json',
    });
    const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message));
    expect(JSON.parse(message.default)).toStrictEqual({
      pipeline: 'web',
      status: 'FAILED',
      execution: 'd-1',
      executionArn: EXECUTION,
      consoleUrl: `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION}`,
      commit: {
        repository: 'acme/web',
        commitId: 'abcdef0123456789',
        branch: 'main',
        message: 'Ship it\n\nmore',
        url: 'https://github.com/acme/web/commit/abcdef0123456789',
      },
      failure: { stage: 'Build', action: 'Unit', error: 'Stepline.BuildFailed', message: '3 tests failed' },
    });
    expect(message.email).toContain('Cause:   3 tests failed');
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  it('posts to Slack, and reads what the event left out with DescribeExecution', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ input: JSON.stringify(input), error: 'States.Timeout', cause: 'Stage Prod was not entered: gate timed out' });
    const { handler, fetch } = setup({ NOTIFICATION_TOPIC_ARN: '', SLACK_WEBHOOK_URL: 'stepline/slack' });
    const result = await handler(statusChange({ status: 'TIMED_OUT', input: null, inputDetails: { included: false } }), lambdaContext());
    expect(result).toStrictEqual({ notified: ['slack'] });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('https://hooks.slack.com/services/T/B/x');
    expect(JSON.parse(String(init.body)).text).toBe('web TIMED_OUT at Prod');
  });

  it('keeps quiet about statuses not asked for, superseded runs included', async () => {
    const { handler } = setup();
    expect(await handler(statusChange({ status: 'RUNNING' }), lambdaContext())).toStrictEqual({ skipped: 'status RUNNING is not in NOTIFY_STATUSES' });
    expect(await handler(statusChange({ status: 'FAILED', error: 'Stepline.Superseded', cause: 'x' }), lambdaContext())).toStrictEqual({
      skipped: 'status SUPERSEDED is not in NOTIFY_STATUSES',
    });
    expect(await handler({ source: 'aws.ec2' }, lambdaContext())).toMatchObject({ skipped: expect.any(String) });
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('fails (so EventBridge retries) when no channel took the notice', async () => {
    sns.on(PublishCommand).rejects(new Error('down'));
    const { handler } = setup();
    await expect(handler(statusChange({ status: 'SUCCEEDED' }), lambdaContext())).rejects.toMatchObject({ name: 'Stepline.Transient' });
  });
});
