import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../model/parse';
import { refusalOf } from '../../testing';
import { compilePipeline } from '../compile';
import { validateStateMachine } from '../states/validate-graph';

const pipeline = (action: Record<string, unknown>) =>
  parsePipeline({
    name: 'shop',
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/shop', outputArtifacts: ['Src'] }] },
      { name: 'Deploy', actions: [{ name: 'Web', kind: 'codedeploy', inputArtifacts: ['Src'], ...action }] },
    ],
  });

const fn = 'arn:aws:lambda:us-east-1:000000000000:function:stepline-code-deploy';
const payload = (operation: Record<string, unknown>) => ({
  FunctionName: fn,
  Payload: {
    pipeline: 'shop',
    stage: 'Deploy',
    action: 'Web',
    'executionId.$': '$$.Execution.Name',
    ...operation,
    spec: {
      applicationName: 'shop',
      deploymentGroupName: 'Web',
      appspec: 'appspec.yml',
      minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 50 },
      autoRollback: true,
      pollSeconds: 15,
      // The whole deployment's limit: the action sets none, so an hour.
      timeoutMinutes: 60,
      ec2: { tagFilters: [{ key: 'App', value: 'shop' }], instanceIds: [] },
    },
    revision: { name: 'Src', 'location.$': "States.Format('stepline-artifacts/shop/{}/Src/', $$.Execution.Name)" },
  },
});
const retry = expect.any(Array);
const catchAll = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Deploy · Web · failed' }];

describe('codedeploy action', () => {
  it('compiles to start → done? → wait → advance, with the deployment in $.inPlace and the result on success', () => {
    const compiled = compilePipeline(pipeline({ deploymentConfig: 'CodeDeployDefault.HalfAtATime', ec2: { tagFilters: [{ key: 'App', value: 'shop' }] } }), {
      target: 'aws',
    });
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    expect(compiled.warnings).toStrictEqual([]);
    const states = compiled.definition.States;
    expect({
      start: states['Deploy · Web'],
      done: states['Deploy · Web · done?'],
      wait: states['Deploy · Web · wait'],
      advance: states['Deploy · Web · advance'],
      deployed: states['Deploy · Web · deployed'],
    }).toStrictEqual({
      start: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: payload({ operation: 'start' }),
        ResultSelector: { 'deployment.$': '$.Payload' },
        ResultPath: '$.inPlace',
        TimeoutSeconds: 3600,
        Retry: retry,
        Catch: catchAll,
        Next: 'Deploy · Web · done?',
      },
      done: {
        Type: 'Choice',
        Choices: [{ Variable: '$.inPlace.deployment.status', StringEquals: 'Succeeded', Next: 'Deploy · Web · deployed' }],
        Default: 'Deploy · Web · wait',
      },
      wait: { Type: 'Wait', SecondsPath: '$.inPlace.deployment.pollSeconds', Next: 'Deploy · Web · advance' },
      advance: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: payload({ operation: 'advance', 'deployment.$': '$.inPlace.deployment' }),
        ResultSelector: { 'deployment.$': '$.Payload' },
        ResultPath: '$.inPlace',
        TimeoutSeconds: 300,
        Retry: retry,
        Catch: catchAll,
        Next: 'Deploy · Web · done?',
      },
      deployed: {
        Type: 'Pass',
        Parameters: {
          output: {
            'deploymentId.$': '$.inPlace.deployment.deploymentId',
            'instances.$': '$.inPlace.deployment.succeeded',
            'failedInstances.$': '$.inPlace.deployment.failed',
          },
        },
        ResultPath: '$.actions.Deploy_Web',
        Next: 'Succeeded',
      },
    });
    expect(compiled.iam).toContainEqual({ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: expect.arrayContaining([fn]) });
    expect(compiled.stateMap['Deploy · Web · deployed']).toStrictEqual({ role: 'step', final: true, stage: 'Deploy', action: 'Web', kind: 'codedeploy' });
  });

  it('warns for the target it cannot reach: no instances on AWS, no local root on one machine', () => {
    const onlyLocal = pipeline({ local: { root: 'host' } });
    expect(compilePipeline(onlyLocal, { target: 'aws' }).warnings).toStrictEqual([
      { path: 'stages[1].actions[0].ec2', message: 'a codedeploy action needs ec2 instances (tagFilters or instanceIds) to run on AWS' },
    ]);
    expect(compilePipeline(onlyLocal, { target: 'local' }).warnings).toStrictEqual([]);
    expect(compilePipeline(pipeline({ ec2: { instanceIds: ['i-0abc'] } }), { target: 'local' }).warnings).toStrictEqual([
      { path: 'stages[1].actions[0].local', message: 'a codedeploy action needs local.root to run on one machine' },
    ]);
  });

  it('refuses a bad configuration with its path', () => {
    const issues = (action: Record<string, unknown>) => refusalOf(() => pipeline(action));
    expect(issues({})).toStrictEqual(['stages[1].actions[0]: expected ec2 instances, a local root or both']);
    expect(issues({ local: { root: 'h' }, deploymentConfig: 'CodeDeployDefault.ECSAllAtOnce' })).toStrictEqual([
      'stages[1].actions[0].deploymentConfig: expected one of CodeDeployDefault.AllAtOnce, CodeDeployDefault.HalfAtATime, CodeDeployDefault.OneAtATime, or { minimumHealthyHosts: { type, value } }, got "CodeDeployDefault.ECSAllAtOnce"',
    ]);
    expect(issues({ local: { root: 'h' }, deploymentConfig: { minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 100 } } })).toStrictEqual([
      'stages[1].actions[0].deploymentConfig: expected a FLEET_PERCENT from 0 to 99',
    ]);
    expect(issues({ ec2: { instanceIds: ['web-1'] } })).toStrictEqual([
      'stages[1].actions[0].ec2.instanceIds[0]: expected an instance id such as i-0abc or mi-0abc, got "web-1"',
    ]);
    expect(issues({ local: { root: 'h' }, inputArtifacts: ['Src', 'Src'] })).toContain(
      'stages[1].actions[0].inputArtifacts: a codedeploy action takes exactly one input artifact: the revision, with its appspec.yml',
    );
  });
});
