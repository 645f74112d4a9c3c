import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../errors';
import { parsePipeline } from '../model/parse';
import { compilePipeline } from './compile';
import { validateStateMachine } from './states/validate-graph';

const MACHINE = 'arn:aws:states:eu-west-1:111122223333:stateMachine:release';
const withAction = (action: Record<string, unknown>) =>
  parsePipeline({
    name: 'flow',
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/flow', outputArtifacts: ['Src'], namespace: 'Src' }] },
      { name: 'Orchestrate', actions: [{ name: 'Release', kind: 'stepfunctions', ...action }] },
    ],
  });
const AWS = { target: 'aws', region: 'us-east-1', accountId: '123456789012', artifactBucket: 'team-artifacts' } as const;

describe('compiling a stepfunctions action', () => {
  it('starts the state machine with startExecution.sync:2, its literal input resolved, and keeps the output', () => {
    // Act
    const compiled = compilePipeline(
      withAction({ stateMachineArn: MACHINE, executionNamePrefix: 'rel', input: '{"commit":"#{Src.CommitId}"}', namespace: 'Flow' }),
      AWS,
    );
    // Assess
    expect(compiled.warnings).toStrictEqual([]);
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    expect(compiled.definition.States['Orchestrate · Release']).toStrictEqual({
      Type: 'Task',
      Resource: 'arn:aws:states:::states:startExecution.sync:2',
      Parameters: {
        StateMachineArn: MACHINE,
        'Name.$': "States.Format('rel-{}', States.UUID())",
        'Input.$': `States.Format('\\{"commit":"{}"\\}', $.actions.Source_Checkout.variables.CommitId)`,
      },
      ResultSelector: { variables: { 'ExecutionArn.$': '$.ExecutionArn', 'StateMachineArn.$': '$.StateMachineArn' }, 'output.$': '$.Output' },
      ResultPath: '$.actions.Orchestrate_Release',
      TimeoutSeconds: 3600,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Orchestrate · Release · failed' }],
      Next: expect.any(String),
    });
    // The state machine's own ARN may be in another region or account: its executions are granted there.
    const granted = compiled.iam.filter((s) => s.Action.some((a) => a.startsWith('states:') || a.startsWith('events:')));
    expect(granted).toStrictEqual([
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: [MACHINE] },
      {
        Effect: 'Allow',
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Resource: ['arn:aws:states:eu-west-1:111122223333:execution:release:*'],
      },
      {
        Effect: 'Allow',
        Action: ['events:DescribeRule', 'events:PutRule', 'events:PutTargets'],
        Resource: ['arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule'],
      },
    ]);
  });

  it('reads a FilePath input from the input artifact in S3 first', () => {
    const compiled = compilePipeline(withAction({ stateMachineArn: MACHINE, inputType: 'FilePath', input: 'ci/input.json', inputArtifacts: ['Src'] }), AWS);
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    expect(compiled.definition.States['Orchestrate · Release · read input']).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:s3:getObject',
      Parameters: { Bucket: 'team-artifacts', 'Key.$': "States.Format('flow/{}/Src/ci/input.json', $$.Execution.Name)" },
      ResultSelector: { 'Body.$': '$.Body' },
      Next: 'Orchestrate · Release',
    });
    expect(compiled.definition.States['Orchestrate · Release']).toMatchObject({
      Parameters: { 'Input.$': 'States.StringToJson($.actions.Orchestrate_ReleaseInput.Body)' },
    });
    expect(compiled.iam).toContainEqual({
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: expect.arrayContaining(['arn:aws:s3:::team-artifacts/flow/*']),
    });
  });

  it('says what each target lacks', () => {
    expect(compilePipeline(withAction({ local: { definition: 'f.asl.json' } }), AWS).warnings).toStrictEqual([
      { path: 'stages[1].actions[0].stateMachineArn', message: 'a stepfunctions action needs a stateMachineArn to run on AWS' },
    ]);
    expect(compilePipeline(withAction({ stateMachineArn: MACHINE }), { target: 'local' }).warnings).toStrictEqual([
      { path: 'stages[1].actions[0].local.definition', message: 'a stepfunctions action needs a local ASL definition to run on one machine' },
    ]);
  });

  it('refuses bad configurations with their path', () => {
    const problems = (action: Record<string, unknown>) => {
      try {
        withAction(action);
        return [];
      } catch (error) {
        if (!(error instanceof DefinitionError)) throw error;
        return error.issues.map((i) => `${i.path}: ${i.message}`);
      }
    };
    expect(problems({})).toStrictEqual(['stages[1].actions[0].stateMachineArn: expected a stateMachineArn, a local definition or both']);
    expect(problems({ stateMachineArn: 'arn:aws:lambda:us-east-1:123456789012:function:x' })).toStrictEqual([
      'stages[1].actions[0].stateMachineArn: expected arn:aws:states:<region>:<account>:stateMachine:<name>, got "arn:aws:lambda:us-east-1:123456789012:function:x"',
    ]);
    expect(problems({ stateMachineArn: MACHINE, input: '{not json' })[0]).toMatch(/^stages\[1\]\.actions\[0\]\.input: expected JSON \(inputType Literal\): /);
    expect(problems({ stateMachineArn: MACHINE, inputType: 'FilePath' })).toStrictEqual([
      'stages[1].actions[0].input: expected the path of a JSON file in the input artifact (inputType FilePath)',
    ]);
    expect(problems({ stateMachineArn: MACHINE, inputType: 'FilePath', input: 'in.json' })).toStrictEqual([
      'stages[1].actions[0].inputArtifacts: a stepfunctions action with inputType FilePath reads its input file from exactly one input artifact',
    ]);
    expect(problems({ stateMachineArn: MACHINE, executionNamePrefix: 'has space' })[0]).toMatch(/executionNamePrefix: expected at most 43 letters/);
    expect(problems({ stateMachineArn: MACHINE, inputType: 'Json' })).toStrictEqual([
      'stages[1].actions[0].inputType: expected Literal or FilePath, got "Json"',
    ]);
  });
});
