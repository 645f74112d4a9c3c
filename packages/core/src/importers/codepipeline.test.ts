import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../errors';
import { parsePipeline } from '../model/parse';
import { importCodePipeline, REFUSED_PROVIDERS, toSteplineYaml } from './codepipeline';

const declaration = (stages: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ pipeline: { name: 'app', stages, ...extra } });
const source = {
  name: 'Source',
  actions: [
    {
      name: 'Src',
      actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeStarSourceConnection', version: '1' },
      configuration: { ConnectionArn: 'arn:aws:codeconnections:eu-west-1:1:connection/x', FullRepositoryId: 'acme/app', BranchName: 'main' },
      outputArtifacts: [{ name: 'SourceArtifact' }],
      namespace: 'SourceVariables',
    },
  ],
};

/** A Build stage of one CodeBuild action `B` with this configuration, reading the source's artifact. */
const codeBuildStage = (configuration: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'Build',
  actions: [
    {
      name: 'B',
      actionTypeId: { category: 'Build', owner: 'AWS', provider: 'CodeBuild', version: '1' },
      configuration,
      inputArtifacts: [{ name: 'SourceArtifact' }],
      ...extra,
    },
  ],
});

describe('importCodePipeline', () => {
  it('maps a V2 pipeline with triggers, variables and execution mode', () => {
    const [imported] = importCodePipeline(
      declaration(
        [
          source,
          {
            name: 'Build',
            actions: [
              {
                name: 'Unit',
                actionTypeId: { category: 'Test', owner: 'AWS', provider: 'CodeBuild', version: '1' },
                runOrder: 1,
                configuration: {
                  ProjectName: 'app-test',
                  EnvironmentVariables: '[{"name":"COMMIT","value":"#{SourceVariables.CommitId}","type":"PLAINTEXT"}]',
                },
                inputArtifacts: [{ name: 'SourceArtifact' }],
              },
              {
                name: 'Notify',
                actionTypeId: { category: 'Invoke', owner: 'AWS', provider: 'Lambda', version: '1' },
                runOrder: 2,
                configuration: { FunctionName: 'notify', UserParameters: 'x' },
              },
            ],
          },
        ],
        {
          pipelineType: 'V2',
          executionMode: 'QUEUED',
          variables: [{ name: 'ENV', defaultValue: 'prod', description: 'target' }],
          triggers: [
            {
              providerType: 'CodeStarSourceConnection',
              gitConfiguration: {
                sourceActionName: 'Src',
                push: [{ branches: { includes: ['main'] }, filePaths: { excludes: ['docs/**'] } }],
                pullRequest: [{ events: ['OPEN'], branches: { includes: ['main'] } }],
              },
            },
          ],
        },
      ),
      'pipeline.json',
    );
    expect(imported?.definition).toStrictEqual({
      name: 'app',
      executionMode: 'QUEUED',
      variables: [{ name: 'ENV', default: 'prod', description: 'target' }],
      triggers: [
        {
          sourceAction: 'Src',
          push: [{ branches: { includes: ['main'] }, filePaths: { excludes: ['docs/**'] } }],
          pullRequest: [{ events: ['OPEN'], branches: { includes: ['main'] } }],
        },
      ],
      stages: [
        {
          name: 'Source',
          actions: [
            {
              name: 'Src',
              namespace: 'SourceVariables',
              outputArtifacts: ['SourceArtifact'],
              kind: 'source',
              provider: 'CodeStarSourceConnection',
              repository: 'acme/app',
              branch: 'main',
              connectionArn: 'arn:aws:codeconnections:eu-west-1:1:connection/x',
            },
          ],
        },
        {
          name: 'Build',
          actions: [
            {
              name: 'Unit',
              runOrder: 1,
              inputArtifacts: ['SourceArtifact'],
              kind: 'test',
              project: 'app-test',
              environmentVariables: { COMMIT: '#{SourceVariables.CommitId}' },
            },
            { name: 'Notify', runOrder: 2, kind: 'invoke', function: 'notify', userParameters: 'x' },
          ],
        },
      ],
    });
    expect(parsePipeline(imported?.definition).stages[1]?.actions[0]?.kind).toBe('test');
  });

  it('imports a V2 Commands action: commands, output variables, environment variables, the output artifact and its files', () => {
    const commands = { name: 'Bundle', actionTypeId: { category: 'Compute', owner: 'AWS', provider: 'Commands', version: '1' }, namespace: 'BundleVars' };
    const [imported] = importCodePipeline(
      declaration([
        source,
        {
          name: 'Package',
          actions: [
            {
              ...commands,
              commands: ['npm ci', 'export VERSION=$(cat VERSION)'],
              outputVariables: ['VERSION'],
              environmentVariables: [{ name: 'STAGE', value: 'beta' }],
              inputArtifacts: [{ name: 'SourceArtifact' }],
              outputArtifacts: [{ name: 'Site', files: ['public/**/*'] }],
            },
          ],
        },
      ]),
      'pipeline.json',
    );
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'Bundle',
      namespace: 'BundleVars',
      inputArtifacts: ['SourceArtifact'],
      outputArtifacts: ['Site'],
      kind: 'commands',
      commands: ['npm ci', 'export VERSION=$(cat VERSION)'],
      outputVariables: ['VERSION'],
      environmentVariables: { STAGE: 'beta' },
      outputFiles: ['public/**/*'],
    });
    expect(imported?.notes).toStrictEqual([]);
  });

  it('imports an S3 source: its bucket and key, and whether a start may name another key (AllowOverrideForS3ObjectKey)', () => {
    const s3Source = (allow?: string) => ({
      name: 'Source',
      actions: [
        {
          name: 'Drop',
          actionTypeId: { category: 'Source', owner: 'AWS', provider: 'S3', version: '1' },
          configuration: { S3Bucket: 'drops', S3ObjectKey: 'app/build.zip', ...(allow !== undefined && { AllowOverrideForS3ObjectKey: allow }) },
          outputArtifacts: [{ name: 'SourceArtifact' }],
        },
      ],
    });
    const first = (allow?: string) => importCodePipeline(declaration([s3Source(allow), codeBuildStage({ ProjectName: 'app-build' })]), 'p.json')[0];
    const allowed = first('true');
    expect(allowed?.definition.stages[0]?.actions[0]).toStrictEqual({
      name: 'Drop',
      outputArtifacts: ['SourceArtifact'],
      kind: 'source',
      provider: 'S3',
      repository: 'drops/app/build.zip',
      allowOverrideForS3ObjectKey: true,
    });
    expect(allowed?.notes).toStrictEqual([]);
    expect(first('false')?.definition.stages[0]?.actions[0]).not.toHaveProperty('allowOverrideForS3ObjectKey');
  });

  it('refuses an unsupported provider, naming the stage, the action and the provider', () => {
    const deploy = {
      name: 'Deploy',
      actions: [{ name: 'Stack', actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'ElasticBeanstalk', version: '1' }, configuration: {} }],
    };
    expect(() => importCodePipeline(declaration([source, deploy]), 'p.json')).toThrow(
      `p.json: pipeline.stages[1].actions[0].actionTypeId: stage Deploy, action Stack: provider ElasticBeanstalk (category Deploy) is not supported: ${REFUSED_PROVIDERS.ElasticBeanstalk}`,
    );
  });

  it('carries PARAMETER_STORE and SECRETS_MANAGER variables as references, beside the plain ones', () => {
    const build = codeBuildStage({
      ProjectName: 'app-build',
      EnvironmentVariables: JSON.stringify([
        { name: 'STAGE', value: 'prod', type: 'PLAINTEXT' },
        { name: 'TOKEN', value: '/prod/token', type: 'PARAMETER_STORE' },
        { name: 'DB', value: 'prod/db:password', type: 'SECRETS_MANAGER' },
      ]),
    });
    const [imported] = importCodePipeline(declaration([source, build]));
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'B',
      inputArtifacts: ['SourceArtifact'],
      kind: 'build',
      project: 'app-build',
      environmentVariables: { STAGE: 'prod' },
      parameterStore: { TOKEN: '/prod/token' },
      secretsManager: { DB: 'prod/db:password' },
    });
  });

  it("carries CodePipeline's BatchEnabled and CombineArtifacts (the sample with combined artifacts)", () => {
    const build = codeBuildStage(
      { ProjectName: 'my-build-project-name', PrimarySource: 'SourceArtifact', BatchEnabled: 'true', CombineArtifacts: 'true' },
      { outputArtifacts: [{ name: 'output1' }] },
    );
    const [imported] = importCodePipeline(declaration([source, build]));
    expect(imported?.definition.stages[1]?.actions[0]).toMatchObject({
      kind: 'build',
      batchEnabled: true,
      combineArtifacts: true,
      outputArtifacts: ['output1'],
    });
    expect(imported?.notes ?? []).toStrictEqual([]);
    expect(parsePipeline(imported?.definition).stages[1]?.actions[0]).toMatchObject({ batchEnabled: true, combineArtifacts: true });
  });

  it('reads CloudFormation YAML with short intrinsic tags, resolving what the template defines', () => {
    const template = `
Parameters:
  Branch: { Type: String, Default: release }
Resources:
  Project:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: !Sub '\${AWS::StackName}-build'
      Source: { Type: CODEPIPELINE, BuildSpec: ci/buildspec.yml }
      Environment: { Image: aws/codebuild/standard:7.0, ComputeType: BUILD_GENERAL1_MEDIUM }
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: !Ref AWS::StackName
      Stages:
        - Name: Source
          Actions:
            - Name: Src
              ActionTypeId: { Category: Source, Owner: AWS, Provider: CodeCommit, Version: '1' }
              Configuration: { RepositoryName: app, BranchName: !Ref Branch }
              OutputArtifacts: [{ Name: Code }]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: { Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1' }
              Configuration: { ProjectName: !Ref Project }
              InputArtifacts: [{ Name: Code }]
`;
    const [imported] = importCodePipeline(template, 'template.yml');
    expect(imported?.definition).toStrictEqual({
      name: 'Pipeline',
      stages: [
        { name: 'Source', actions: [{ name: 'Src', outputArtifacts: ['Code'], kind: 'source', provider: 'CodeCommit', repository: 'app', branch: 'release' }] },
        {
          name: 'Build',
          actions: [
            {
              name: 'Build',
              inputArtifacts: ['Code'],
              kind: 'build',
              buildspec: 'ci/buildspec.yml',
              environment: { image: 'aws/codebuild/standard:7.0', computeType: 'BUILD_GENERAL1_MEDIUM' },
            },
          ],
        },
      ],
    });
    expect(imported?.notes).toStrictEqual([
      'Resources.Pipeline.Properties.Name: AWS::StackName is the name the stack is created with; the pipeline is named after its resource, Pipeline',
      'Resources.Pipeline.Properties.Stages[1].Actions[0]: the CodeBuild project Project is defined in the template; stepline creates its own project for this action, with the same buildspec, environment and variables',
    ]);
    expect(toSteplineYaml(imported as never)).toContain('# note: Resources.Pipeline.Properties.Name');
  });

  it('refuses templated files and documents without a pipeline, with what to do', () => {
    expect(() => importCodePipeline('Resources:\n  X: {{ cookiecutter.name }}\n', 't.yml')).toThrow('render it, then import the result');
    expect(() => importCodePipeline('Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n', 't.yml')).toThrow(
      't.yml: Resources: no AWS::CodePipeline::Pipeline resource in this template',
    );
    expect(() => importCodePipeline('{"hello": 1}', 'x.json')).toThrow(DefinitionError);
  });
});

describe('V2 stage conditions in get-pipeline JSON', () => {
  it('imports onFailure ROLLBACK with its condition of Commands rules', () => {
    const deploy = {
      ...codeBuildStage({ ProjectName: 'deploy' }),
      name: 'Deploy',
      onFailure: {
        result: 'ROLLBACK',
        conditions: [
          {
            rules: [
              { name: 'Smoke', ruleTypeId: { category: 'Rule', owner: 'AWS', provider: 'Commands', version: '1' }, commands: ['curl -f localhost'] },
              {
                name: 'Files',
                ruleTypeId: { category: 'Rule', owner: 'AWS', provider: 'Commands', version: '1' },
                commands: ['test -f index.html'],
                inputArtifacts: [{ name: 'SourceArtifact' }],
              },
            ],
          },
        ],
      },
    };
    const [imported] = importCodePipeline(declaration([source, deploy], { pipelineType: 'V2' }), 'p.json');
    expect(imported?.definition.stages[1]?.onFailure).toStrictEqual({
      result: 'ROLLBACK',
      rules: [
        { name: 'Smoke', provider: 'Commands', commands: ['curl -f localhost'] },
        { name: 'Files', provider: 'Commands', commands: ['test -f index.html'], inputArtifacts: ['SourceArtifact'] },
      ],
    });
    expect(imported?.notes.filter((n) => n.includes('inputArtifacts'))).toStrictEqual([]);
  });
});
