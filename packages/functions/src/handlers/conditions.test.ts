import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { BatchGetBuildsCommand, CodeBuildClient, ListBuildsForProjectCommand, StartBuildCommand, StopBuildCommand } from '@aws-sdk/client-codebuild';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, type GetObjectCommandOutput, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type ConditionCheckPayload, commandsBuildspec, conditionEvaluation, parsePipeline, type Rule, rollbackInput, ruleBuildToken } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createConditionsHandler } from './conditions';

const cloudwatch = mockClient(CloudWatchClient);
const lambda = mockClient(LambdaClient);
const codebuild = mockClient(CodeBuildClient);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const handler = createConditionsHandler({
  cloudwatch: () => new CloudWatchClient({}),
  lambda: () => new LambdaClient({}),
  codebuild: () => new CodeBuildClient({}),
  s3: () => new S3Client({}),
  bucket: () => 'stepline-team-artifacts',
  projectPrefix: () => 'stepline-team',
  rollback: { sfn: () => new SFNClient({}), s3: () => new S3Client({}), env: { ARTIFACT_BUCKET: 'artifacts' } },
});
const noSuchKey = () => new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'no such key' });

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
  codebuild.reset();
  sfn.reset();
  s3.reset();
  // No override unless a test records one.
  s3.on(GetObjectCommand).rejects(noSuchKey());
});

describe('the conditions function', () => {
  it('reads the alarm with DescribeAlarms: in ALARM the rule is not met', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'web-5xx', StateValue: 'ALARM' }] });
    const result = await handler(check([alarmRule]));
    expect(result).toMatchObject({ status: 'NOT_MET', rule: 'Errors', reason: 'alarm web-5xx is ALARM' });
    expect(cloudwatch).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNames: ['web-5xx'], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] });
  });

  it('counts an alarm it cannot find as not met, saying so, whatever states the rule fails on', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    const missing = 'alarm web-5xx does not exist: a missing alarm counts as not met (check its name and region)';
    expect(await handler(check([alarmRule]))).toMatchObject({ status: 'NOT_MET', reason: missing });
    expect(await handler(check([{ ...alarmRule, alarmStates: ['INSUFFICIENT_DATA'] }]))).toMatchObject({ status: 'NOT_MET', reason: missing });
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
    s3.on(GetObjectCommand).callsFake(async () => ({ Body: { transformToString: async () => JSON.stringify(manifest) } }));
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
});

describe('a Commands rule on AWS', () => {
  const smoke: Rule = { name: 'Smoke', provider: 'Commands', commands: ['npm ci', 'npm run smoke'] };
  const build = (status: string, phases: object[] = []) => ({ builds: [{ id: 'p:1', buildStatus: status, phases } as never] });

  it('starts a build of its own project with the commands as buildspec and its input artifacts as sources, and waits for it through the machine’s Wait loop', async () => {
    codebuild.on(ListBuildsForProjectCommand).resolves({ ids: [] });
    codebuild.on(StartBuildCommand).resolves({ build: { id: 'p:1' } });
    const payload = { ...check([{ ...smoke, inputArtifacts: ['Site', 'Extra-Docs'] }]), run: '2026-12-05T03:00:00.000Z' };
    const first = await handler({ ...payload, variables: { ENV: 'prod' } });
    expect(first).toMatchObject({ status: 'WAIT', rule: 'Smoke', waitSeconds: 15, watch: { builds: { Smoke: 'p:1' } } });
    const token = ruleBuildToken(payload, 'Smoke');
    expect(codebuild).toHaveReceivedCommandWith(StartBuildCommand, {
      projectName: 'stepline-team-web-Deploy-onSuccess-Smoke',
      idempotencyToken: token,
      sourceTypeOverride: 'S3',
      sourceLocationOverride: 'stepline-team-artifacts/web/e-1/Site/',
      secondarySourcesOverride: [{ type: 'S3', sourceIdentifier: 'Extra_Docs', location: 'stepline-team-artifacts/web/e-1/Extra-Docs/' }],
      buildspecOverride: commandsBuildspec({ commands: smoke.commands }),
      timeoutInMinutesOverride: 55,
      environmentVariablesOverride: [
        { name: 'ENV', value: 'prod', type: 'PLAINTEXT' },
        { name: 'STEPLINE_PIPELINE', value: 'web', type: 'PLAINTEXT' },
        { name: 'STEPLINE_EXECUTION_ID', value: 'e-1', type: 'PLAINTEXT' },
        { name: 'STEPLINE_RULE_BUILD_TOKEN', value: token, type: 'PLAINTEXT' },
      ],
    });
    // The token names the evaluation: another run of the execution, another build.
    expect(ruleBuildToken({ ...payload, run: '2026-12-05T04:00:00.000Z' }, 'Smoke')).not.toBe(token);

    codebuild.on(BatchGetBuildsCommand).resolvesOnce(build('IN_PROGRESS')).resolvesOnce(build('SUCCEEDED'));
    const again = { ...check([smoke]), watch: first.watch };
    expect(await handler(again)).toMatchObject({ status: 'WAIT', reason: 'commands running in CodeBuild build p:1 (starting)' });
    expect(await handler(again)).toMatchObject({
      status: 'PASS',
      rules: [{ rule: 'Smoke', status: 'PASS', reason: 'commands succeeded in CodeBuild build p:1' }],
    });
    expect(codebuild).toHaveReceivedCommandTimes(StartBuildCommand, 1);
  });

  it('finds the build a retried check started in a project of more than 100 builds, where a sort order is an error', async () => {
    const payload = { ...check([smoke]), run: '2026-12-05T03:00:00.000Z' };
    const token = ruleBuildToken(payload, 'Smoke');
    // As documented: newest first by default; `sortOrder` refused past 100 builds; 100 ids a page.
    codebuild.on(ListBuildsForProjectCommand).callsFake((input: { sortOrder?: string }) => {
      if (input.sortOrder !== undefined) throw Object.assign(new Error('sort order not allowed past 100 builds'), { name: 'InvalidInputException' });
      return { ids: Array.from({ length: 100 }, (_, i) => `p:${150 - i}`), nextToken: 'next' };
    });
    codebuild.on(BatchGetBuildsCommand).callsFake(({ ids }: { ids: string[] }) => ({
      builds: ids.map((id) => ({
        id,
        buildStatus: 'IN_PROGRESS',
        environment: { environmentVariables: id === 'p:149' ? [{ name: 'STEPLINE_RULE_BUILD_TOKEN', value: token }] : [] },
      })),
    }));
    expect(await handler(payload)).toMatchObject({ status: 'WAIT', watch: { builds: { Smoke: 'p:149' } } });
    expect(codebuild).toHaveReceivedCommandTimes(StartBuildCommand, 0);
  });

  it('fails naming the phase and the command CodeBuild says failed', async () => {
    codebuild.on(BatchGetBuildsCommand).resolves(
      build('FAILED', [
        { phaseType: 'SUBMITTED', phaseStatus: 'SUCCEEDED' },
        {
          phaseType: 'BUILD',
          phaseStatus: 'FAILED',
          contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'Error while executing command: npm run smoke. Reason: exit status 1' }],
        },
      ]),
    );
    expect(await handler({ ...check([smoke]), watch: { builds: { Smoke: 'p:1' } } })).toMatchObject({
      status: 'NOT_MET',
      rule: 'Smoke',
      reason:
        'commands failed in CodeBuild build p:1: phase BUILD FAILED: COMMAND_EXECUTION_ERROR: Error while executing command: npm run smoke. Reason: exit status 1',
    });
  });
});

describe('an overridden condition on AWS', () => {
  const override = { by: 'alice@example.com', at: '2026-12-05T01:00:00.000Z' };
  const recorded = (Key: string) =>
    s3.on(GetObjectCommand, { Bucket: 'stepline-team-artifacts', Key }).resolves({
      Body: { transformToString: async () => JSON.stringify(override) } as unknown as GetObjectCommandOutput['Body'],
    });

  it('passes without running its rules when the override record is in the bucket, naming who and when', async () => {
    recorded('_stepline/condition-overrides/web/e-1/Deploy/onSuccess.json');
    const result = await handler(check([alarmRule]));
    expect(result).toMatchObject({ status: 'PASS', reason: 'overridden by alice@example.com at 2026-12-05T01:00:00.000Z' });
    expect(cloudwatch).not.toHaveReceivedCommand(DescribeAlarmsCommand);
  });

  it('stops the Commands rule’s build it no longer waits for, and leaves one that has ended as it is', async () => {
    const payload = { ...check([{ name: 'Smoke', provider: 'Commands', commands: ['npm run smoke'] }, alarmRule]), run: '2026-12-05T00:59:00.000Z' };
    const waiting = { builds: { Smoke: 'p:7' } };
    // The evaluation that waited is the one the CLI overrode (the check's answers carry it).
    const evaluation = conditionEvaluation(payload);
    recorded(`_stepline/condition-overrides/web/e-1/Deploy/onSuccess/${evaluation}.json`);
    codebuild.on(StopBuildCommand).resolves({ build: { id: 'p:7', buildStatus: 'STOPPED' } });
    expect(await handler({ ...payload, watch: waiting })).toMatchObject({ status: 'PASS', evaluation });
    expect(codebuild).toHaveReceivedCommandWith(StopBuildCommand, { id: 'p:7' });

    codebuild.on(StopBuildCommand).rejects(Object.assign(new Error('Build p:7 is not in progress'), { name: 'InvalidInputException' }));
    expect(await handler({ ...payload, watch: waiting })).toMatchObject({ status: 'PASS' });
    expect(codebuild).not.toHaveReceivedCommand(BatchGetBuildsCommand);
  });
});
