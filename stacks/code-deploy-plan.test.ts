/** What an installation gives the code-deploy function: the revisions of its pipelines, and commands only to the instances their actions name. */
import { join } from 'node:path';
import { parsePipelineText } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { pipelineYaml } from '../test/helpers/project';
import { installStepline } from './install';
import { planFor, TEST_ACCOUNT, TEST_REGION } from './plan-fixture';
import { mockPulumi, settleAll } from './testing';

const pipeline = parsePipelineText(
  pipelineYaml(
    'shop',
    `  - name: Deploy
    actions:
      - name: Servers
        kind: codedeploy
        inputArtifacts: [Src]
        ec2: { tagFilters: [{ key: App, value: shop }, { key: App, value: shop-canary }], instanceIds: [mi-0123456789abcdef0] }
`,
  ),
);
const plan = (pipelines = [pipeline]) => planFor(pipelines);
const withoutLogs = (statements: ReturnType<typeof plan>['functions']['code-deploy']['statements']) =>
  statements.filter((s) => !s.Action.some((a) => a.startsWith('logs:')));

describe('the code-deploy function', () => {
  it('reads only the revisions of pipelines that deploy in place, and sends commands only to the instances their actions name', () => {
    const { functions, names } = plan();
    expect(withoutLogs(functions['code-deploy'].statements)).toStrictEqual([
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${names.bucket}/shop/*`] },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [`arn:aws:s3:::${names.bucket}/_stepline/revisions/shop/*`] },
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [`arn:aws:s3:::${names.bucket}`] },
      { Sid: 'InstanceLookup', Effect: 'Allow', Action: ['ec2:DescribeInstances'], Resource: ['*'] },
      { Sid: 'CommandResults', Effect: 'Allow', Action: ['ssm:GetCommandInvocation', 'ssm:ListCommands', 'ssm:CancelCommand'], Resource: ['*'] },
      { Sid: 'AwsOwnedDocument', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ['arn:aws:ssm:eu-west-1:*:document/AWS-RunShellScript'] },
      {
        Sid: 'TaggedInstances',
        Effect: 'Allow',
        Action: ['ssm:SendCommand'],
        Resource: ['arn:aws:ec2:eu-west-1:123456789012:instance/*', 'arn:aws:ssm:eu-west-1:123456789012:managed-instance/*'],
        Condition: { StringEquals: { 'ssm:resourceTag/App': ['shop', 'shop-canary'] } },
      },
      { Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: ['arn:aws:ssm:eu-west-1:123456789012:managed-instance/mi-0123456789abcdef0'] },
    ]);
    expect(withoutLogs(plan([]).functions['code-deploy'].statements)).toStrictEqual([]);
  });

  it('is the function the compiled machine invokes, with the artifact bucket it keeps last good revisions in', () => {
    const { functions, stateMachines, names } = plan();
    const states = stateMachines[0]?.compiled.definition.States ?? {};
    for (const name of ['Deploy · Servers', 'Deploy · Servers · advance'])
      expect(states[name]).toMatchObject({ Type: 'Task', Parameters: { FunctionName: functions['code-deploy'].arn } });
    expect(functions['code-deploy'].environment.ARTIFACT_BUCKET).toBe(names.bucket);
  });

  it('is told of its pipelines’ executions that ended without success, to cancel the SSM commands they left running', async () => {
    const created = await mockPulumi();
    const stepline = installStepline({
      stage: 'team',
      region: TEST_REGION,
      accountId: TEST_ACCOUNT,
      pipelines: [pipeline],
      handlersDir: join(import.meta.dirname, '../packages/functions/src/handlers'),
      bundle: () => new $util.asset.AssetArchive({ 'index.mjs': new $util.asset.StringAsset('export const handler = async () => ({});') }),
      secrets: { GithubWebhookSecret: 'whsec', LinkSigningKey: 'key' },
    });
    await settleAll(stepline.resources);
    const rule = created.find((r) => r.type === 'aws:cloudwatch/eventRule:EventRule' && r.name === 'InPlaceStop');
    expect(JSON.parse(String(rule?.inputs.eventPattern))).toStrictEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { stateMachineArn: [plan().stateMachines[0]?.arn], status: ['ABORTED', 'TIMED_OUT', 'FAILED'] },
    });
    expect(created.filter((r) => r.type === 'aws:cloudwatch/eventTarget:EventTarget').map((t) => t.name)).toContain('InPlaceStopToCodeDeploy');
    expect(plan().functions['code-deploy'].environment.STATE_MACHINE_PREFIX).toBe('stepline-team-');
  });
});
