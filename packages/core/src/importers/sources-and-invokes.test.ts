import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../model/parse';
import { importCodePipeline } from './codepipeline';

const CONNECTION = 'arn:aws:codeconnections:eu-west-1:111122223333:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';
const MACHINE = 'arn:aws:states:eu-west-1:111122223333:stateMachine:release';
const action = (name: string, category: string, provider: string, configuration: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  name,
  actionTypeId: { category, owner: 'AWS', provider, version: '1' },
  configuration,
  ...extra,
});
const pipelineJson = (sourceAction: unknown, invoke?: unknown) =>
  JSON.stringify({
    pipeline: {
      name: 'app',
      stages: [
        { name: 'Source', actions: [sourceAction] },
        { name: 'Run', actions: [invoke ?? action('Flow', 'Invoke', 'StepFunctions', { StateMachineArn: MACHINE }, { inputArtifacts: [{ name: 'Src' }] })] },
      ],
    },
  });
const gitSource = (repository: string) =>
  action(
    'Src',
    'Source',
    'CodeStarSourceConnection',
    { ConnectionArn: CONNECTION, FullRepositoryId: repository, BranchName: 'main' },
    { outputArtifacts: [{ name: 'Src' }] },
  );

describe('importing ECR, Step Functions and connections to GitLab and Bitbucket', () => {
  it('imports an ECR source and a Step Functions invoke with their configuration', () => {
    const [imported] = importCodePipeline(
      pipelineJson(
        action('Image', 'Source', 'ECR', { RepositoryName: 'team/web', ImageTag: 'release' }, { outputArtifacts: [{ name: 'Src' }], namespace: 'Img' }),
        action(
          'Flow',
          'Invoke',
          'StepFunctions',
          { StateMachineArn: MACHINE, ExecutionNamePrefix: 'rel', InputType: 'FilePath', Input: 'input.json' },
          { inputArtifacts: [{ name: 'Src' }], namespace: 'Flow' },
        ),
      ),
    );
    expect(imported?.definition.stages).toStrictEqual([
      {
        name: 'Source',
        actions: [{ name: 'Image', namespace: 'Img', outputArtifacts: ['Src'], kind: 'source', provider: 'ECR', repository: 'team/web', imageTag: 'release' }],
      },
      {
        name: 'Run',
        actions: [
          {
            name: 'Flow',
            namespace: 'Flow',
            inputArtifacts: ['Src'],
            kind: 'stepfunctions',
            stateMachineArn: MACHINE,
            executionNamePrefix: 'rel',
            inputType: 'FilePath',
            input: 'input.json',
          },
        ],
      },
    ]);
    expect(imported?.notes).toContain(
      'pipeline.stages[1].actions[0]: runs on AWS; to run it on one machine too, give it local.definition (an ASL file in the repository)',
    );
    expect(() => parsePipeline(imported?.definition)).not.toThrow();
  });

  it('reads the host of a connection from --connection-host or a GitLab subgroup, else GitHub', () => {
    const provider = (text: string, hosts?: Record<string, string>) => {
      const [imported] = importCodePipeline(text, 'p.json', hosts ? { connectionHosts: hosts } : {});
      return [imported?.definition.stages[0]?.actions[0], imported?.notes ?? []] as const;
    };
    expect(provider(pipelineJson(gitSource('acme/app')), { [CONNECTION]: 'Bitbucket' })[0]).toMatchObject({ provider: 'Bitbucket', connectionArn: CONNECTION });
    expect(provider(pipelineJson(gitSource('acme/app')), { [CONNECTION]: 'GitLab' })[0]).toMatchObject({ provider: 'GitLab' });
    const [nested, nestedNotes] = provider(pipelineJson(gitSource('group/sub/app')));
    expect(nested).toMatchObject({ provider: 'GitLab', repository: 'group/sub/app' });
    expect(nestedNotes).toContain(
      'pipeline.stages[0].actions[0].configuration.FullRepositoryId: group/sub/app has subgroups: only GitLab nests them, so this source reads GitLab',
    );
    const [plain, plainNotes] = provider(pipelineJson(gitSource('acme/app')));
    expect(plain).toMatchObject({ provider: 'CodeStarSourceConnection' });
    expect(plainNotes.filter((n) => n.includes('Src'))).toStrictEqual([]);
  });

  it("takes a template's own connection's ProviderType, its ARN given as the connection's parameter", () => {
    const template = JSON.stringify({
      AWSTemplateFormatVersion: '2010-09-09',
      Resources: {
        Connection: { Type: 'AWS::CodeStarConnections::Connection', Properties: { ConnectionName: 'bb', ProviderType: 'Bitbucket' } },
        Pipeline: {
          Type: 'AWS::CodePipeline::Pipeline',
          Properties: {
            Name: 'app',
            RoleArn: 'arn:aws:iam::111122223333:role/p',
            ArtifactStore: { Type: 'S3', Location: 'bucket' },
            Stages: [
              {
                Name: 'Source',
                Actions: [
                  {
                    Name: 'Src',
                    ActionTypeId: { Category: 'Source', Owner: 'AWS', Provider: 'CodeStarSourceConnection', Version: '1' },
                    Configuration: { ConnectionArn: { Ref: 'Connection' }, FullRepositoryId: 'acme/app', BranchName: 'main' },
                    OutputArtifacts: [{ Name: 'Src' }],
                  },
                ],
              },
              {
                Name: 'Run',
                Actions: [
                  {
                    Name: 'Flow',
                    ActionTypeId: { Category: 'Invoke', Owner: 'AWS', Provider: 'StepFunctions', Version: '1' },
                    Configuration: { StateMachineArn: MACHINE, Input: '{"a":1}' },
                  },
                ],
              },
            ],
          },
        },
      },
    });
    const [imported] = importCodePipeline(template, 'stack.json', { parameters: { Connection: CONNECTION } });
    expect(imported?.definition.stages[0]?.actions[0]).toMatchObject({ provider: 'Bitbucket', connectionArn: CONNECTION });
  });

  it('refuses what the providers do not allow, each problem with its path', () => {
    expect(() =>
      importCodePipeline(pipelineJson(gitSource('acme/app'), action('Flow', 'Invoke', 'StepFunctions', { StateMachineArn: MACHINE, InputType: 'Json' }))),
    ).toThrow('pipeline.stages[1].actions[0].inputType: expected Literal or FilePath, got "Json"');
    expect(() =>
      importCodePipeline(pipelineJson(gitSource('acme/app'), action('Flow', 'Invoke', 'StepFunctions', { StateMachineArn: MACHINE, Input: '{"a":' }))),
    ).toThrow(/pipeline\.stages\[1\]\.actions\[0\]\.input: expected JSON \(inputType Literal\)/);
    expect(() => importCodePipeline(pipelineJson(action('Image', 'Build', 'ECR', { RepositoryName: 'x' })))).toThrow(
      /provider ECR \(category Build\) is not supported: ECR is imported in the Source categories only, not Build/,
    );
  });
});
