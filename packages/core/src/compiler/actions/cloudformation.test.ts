import { describe, expect, it } from 'vitest';
import { parsePipelineText } from '../../model/parse';
import { refusalOf } from '../../testing';
import { compilePipeline } from '../compile';

const compile = (deploy: string) =>
  compilePipeline(
    parsePipelineText(`
name: infra
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, namespace: SourceVariables, repository: acme/infra, outputArtifacts: [Src] }]
  - name: Deploy
    actions: [{ name: Stack, kind: cloudformation, stackName: web, inputArtifacts: [Src], ${deploy} }]
`),
    { target: 'aws', region: 'eu-west-1', accountId: '123456789012', artifactBucket: 'arts' },
  );

describe('CloudFormation action', () => {
  it('asks the cloudformation function for the calls’ input, and has it write the outputs file last', () => {
    const { definition, warnings } = compile(
      'actionMode: CREATE_UPDATE, templatePath: "Src::stack.yml", templateConfiguration: "Src::prod.json", outputArtifacts: [Out], outputFileName: out.json, parameterOverrides: { Image: \'{"Fn::GetParam": ["Src", "image.json", "uri"]}\', Tag: "v-#{SourceVariables.CommitId}" }',
    );
    expect(warnings).toStrictEqual([]);
    const fn = 'arn:aws:lambda:eu-west-1:123456789012:function:stepline-cloudformation';
    const identity = { pipeline: 'infra', stage: 'Deploy', action: 'Stack', 'executionId.$': '$$.Execution.Name' };
    const src = { name: 'Src', 'location.$': "States.Format('arts/infra/{}/Src/', $$.Execution.Name)" };
    const { Retry: _, ...prepare } = definition.States['Deploy · Stack · prepare'] as unknown as Record<string, unknown>;
    expect(prepare).toStrictEqual({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: fn,
        Payload: {
          ...identity,
          operation: 'prepare',
          deploy: {
            stackName: 'web',
            inputArtifacts: ['Src'],
            templatePath: 'Src::stack.yml',
            templateConfiguration: 'Src::prod.json',
            // A variable is resolved by the state machine before the function sees it.
            parameterOverrides: {
              Image: '{"Fn::GetParam": ["Src", "image.json", "uri"]}',
              'Tag.$': "States.Format('v-{}', $.actions.Source_Checkout.variables.CommitId)",
            },
          },
          inputArtifacts: [src],
        },
      },
      ResultSelector: { 'stack.$': '$.Payload.stack' },
      ResultPath: '$.actions.Deploy_Stack.input',
      TimeoutSeconds: 60,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Deploy · Stack · failed' }],
      Next: 'Deploy · Stack · look',
    });
    expect(definition.States['Deploy · Stack · create']).toMatchObject({ InputPath: '$.actions.Deploy_Stack.input.stack' });
    expect(definition.States['Deploy · Stack · create']).not.toHaveProperty('Parameters');
    expect(definition.States['Deploy · Stack · done']).toMatchObject({ Next: 'Deploy · Stack · outputs file' });
    expect(definition.States['Deploy · Stack · outputs file']).toMatchObject({
      Parameters: {
        FunctionName: fn,
        Payload: {
          ...identity,
          operation: 'outputs',
          mode: 'CREATE_UPDATE',
          'result.$': '$.actions.Deploy_Stack',
          outputArtifact: { name: 'Out', 'location.$': "States.Format('arts/infra/{}/Out/', $$.Execution.Name)" },
          outputFileName: 'out.json',
        },
      },
      ResultPath: null,
    });
  });

  it('names an override whose function reads an artifact the action does not take, and an outputs file without an artifact', () => {
    const { warnings } = compile(
      'actionMode: CREATE_UPDATE, templatePath: "Src::stack.yml", outputFileName: out.json, parameterOverrides: { Image: \'{"Fn::GetParam": ["Build", "image.json", "uri"]}\' }',
    );
    expect(warnings).toStrictEqual([
      { path: 'stages[1].actions[0].parameterOverrides.Image', message: 'artifact Build is not an input artifact of the action (Src)' },
      { path: 'stages[1].actions[0].outputFileName', message: 'expected an output artifact to write the outputs file into' },
    ]);
  });

  it('refuses a second output artifact: the outputs file goes in one', () => {
    expect(refusalOf(() => compile('actionMode: DELETE_ONLY, outputArtifacts: [A, B]'))).toStrictEqual([
      'stages[1].actions[0].outputArtifacts: a cloudformation action writes at most one output artifact: the one its outputFileName goes in',
    ]);
  });
});
