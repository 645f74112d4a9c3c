/** What an installation gives the code-deploy function: the revisions of its pipelines, and commands only to the instances their actions name. */
import { lastGoodRevisionKey, parsePipelineText } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { checkRequests, describeDenials, type IamRequest } from '../test/helpers/iam-check';
import { pipelineYaml } from '../test/helpers/project';
import { planFor, TEST_ACCOUNT, TEST_REGION } from './plan-fixture';
import { installUnderMocks } from './testing';

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

describe('the code-deploy function', () => {
  it('reads only the revisions of pipelines that deploy in place, and sends commands only to the instances their actions name', async () => {
    const { functions, names } = plan();
    const statements = () => functions['code-deploy'].statements;
    const bucket = `arn:aws:s3:::${names.bucket}`;
    const instance = (id: string) => `arn:aws:ec2:${TEST_REGION}:${TEST_ACCOUNT}:instance/${id}`;
    const request = (action: string, resource: string, more: Partial<IamRequest> = {}): IamRequest => ({ principal: 'code-deploy', action, resource, ...more });
    const lastGood = `${bucket}/${lastGoodRevisionKey('shop', 'Deploy', 'Servers')}`;
    const allowed = [
      request('s3:GetObject', `${bucket}/shop/e1/Src/manifest.json`, { mayBeMissing: true }),
      request('s3:GetObject', `${bucket}/shop/e1/Src/appspec.yml`),
      request('s3:GetObject', lastGood, { mayBeMissing: true }),
      request('s3:PutObject', lastGood),
      request('ec2:DescribeInstances', '*'),
      ...['ssm:GetCommandInvocation', 'ssm:ListCommands', 'ssm:CancelCommand'].map((a) => request(a, '*')),
      request('ssm:SendCommand', `arn:aws:ssm:${TEST_REGION}:${TEST_ACCOUNT}:document/AWS-RunShellScript`),
      request('ssm:SendCommand', instance('i-0aaa'), { context: { 'ssm:resourceTag/App': 'shop' } }),
      request('ssm:SendCommand', instance('i-0bbb'), { context: { 'ssm:resourceTag/App': 'shop-canary' } }),
      request('ssm:SendCommand', `arn:aws:ssm:${TEST_REGION}:${TEST_ACCOUNT}:managed-instance/mi-0123456789abcdef0`),
    ];
    expect(describeDenials(await checkRequests(statements, allowed))).toBe('');

    const denied = [
      // Another pipeline's artifacts and records, and writing an artifact.
      request('s3:GetObject', `${bucket}/web/e1/Src/appspec.yml`),
      request('s3:PutObject', `${bucket}/${lastGoodRevisionKey('web', 'Deploy', 'Servers')}`),
      request('s3:PutObject', `${bucket}/shop/e1/Src/appspec.yml`),
      // Another document, an instance of another application, one with no tag, a managed instance not named.
      request('ssm:SendCommand', `arn:aws:ssm:${TEST_REGION}:${TEST_ACCOUNT}:document/AWS-RunPowerShellScript`),
      request('ssm:SendCommand', instance('i-0ccc'), { context: { 'ssm:resourceTag/App': 'api' } }),
      request('ssm:SendCommand', instance('i-0ddd')),
      request('ssm:SendCommand', `arn:aws:ssm:${TEST_REGION}:${TEST_ACCOUNT}:managed-instance/mi-0fedcba9876543210`),
    ];
    for (const r of denied) expect(await checkRequests(statements, [r]), `${r.action} ${r.resource}`).toHaveLength(1);
    // An installation with no in-place deployment gives the function nothing of this.
    const none = plan([]).functions['code-deploy'].statements;
    for (const r of [...allowed, ...denied]) expect(await checkRequests(() => none, [r]), `${r.action} ${r.resource}`).not.toHaveLength(0);
  });

  it('is the function the compiled machine invokes, with the artifact bucket it keeps last good revisions in', () => {
    const { functions, stateMachines, names } = plan();
    const states = stateMachines[0]?.compiled.definition.States ?? {};
    for (const name of ['Deploy · Servers', 'Deploy · Servers · advance'])
      expect(states[name]).toMatchObject({ Type: 'Task', Parameters: { FunctionName: functions['code-deploy'].arn } });
    expect(functions['code-deploy'].environment.ARTIFACT_BUCKET).toBe(names.bucket);
  });

  it('is told of its pipelines’ executions that ended without success, to cancel the SSM commands they left running', async () => {
    const created = await installUnderMocks([pipeline]);
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
