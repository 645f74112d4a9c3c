import { describe, expect, it } from 'vitest';
import { parseBuildspecText } from '../../buildspec/parse';
import { parsePipelineText } from '../../model/parse';
import { refusalOf } from '../../testing';
import { compilePipeline } from '../compile';
import type { State } from '../states';

const backoff = { IntervalSeconds: 2, MaxAttempts: 5, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' };

const pipeline = (actions: string, publish = true) => `
name: web
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/web, outputArtifacts: [Src], namespace: SourceVariables }]
  - name: Package
    actions:
${actions}
${publish ? PUBLISH : ''}`;
const PUBLISH = `  - name: Publish
    actions: [{ name: Announce, kind: build, inputArtifacts: [Src], environmentVariables: { VERSION: "#{PackageVars.VERSION}" } }]`;
const COMMANDS = `      - name: Bundle
        kind: commands
        namespace: PackageVars
        inputArtifacts: [Src]
        outputArtifacts: [Bundle]
        outputFiles: ["dist/**/*", "manifest.json"]
        outputVariables: [VERSION]
        environmentVariables: { COMMIT: "#{SourceVariables.CommitId}" }
        commands:
          - npm ci
          - export VERSION=$(node -p "require('./package.json').version")`;

const problems = (yaml: string) => refusalOf(() => compilePipeline(parsePipelineText(yaml)));

describe('the commands action', () => {
  it('compiles to a CodeBuild build of its own project, with the buildspec made from its commands', () => {
    const { definition, iam } = compilePipeline(parsePipelineText(pipeline(COMMANDS)));
    const state = definition.States['Package · Bundle'] as State & { Parameters: { BuildspecOverride: string } };
    expect(state).toStrictEqual({
      Type: 'Task',
      Resource: 'arn:aws:states:::codebuild:startBuild.sync',
      Parameters: {
        ProjectName: 'stepline-web-Package-Bundle',
        'SourceVersion.$': '$.actions.Source_Checkout.variables.CommitId',
        BuildspecOverride: state.Parameters.BuildspecOverride,
        TimeoutInMinutesOverride: 55,
        EnvironmentVariablesOverride: [
          { Name: 'STEPLINE_PIPELINE', Type: 'PLAINTEXT', Value: 'web' },
          { Name: 'STEPLINE_EXECUTION_ID', Type: 'PLAINTEXT', 'Value.$': '$$.Execution.Name' },
          { Name: 'STEPLINE_STAGE', Type: 'PLAINTEXT', Value: 'Package' },
          { Name: 'STEPLINE_ACTION', Type: 'PLAINTEXT', Value: 'Bundle' },
          { Name: 'COMMIT', Type: 'PLAINTEXT', 'Value.$': '$.actions.Source_Checkout.variables.CommitId' },
        ],
        ArtifactsOverride: {
          Type: 'S3',
          Location: 'stepline-artifacts',
          'Path.$': "States.Format('web/{}', $$.Execution.Name)",
          Name: 'Bundle',
          NamespaceType: 'NONE',
          Packaging: 'NONE',
        },
      },
      ResultSelector: {
        'buildId.$': '$.Build.Id',
        'buildNumber.$': '$.Build.BuildNumber',
        'status.$': '$.Build.BuildStatus',
        'exportedVariables.$': '$.Build.ExportedEnvironmentVariables',
      },
      ResultPath: '$.actions.Package_Bundle',
      TimeoutSeconds: (55 + 60) * 60,
      Retry: [{ ErrorEquals: ['CodeBuild.AccountLimitExceededException', 'CodeBuild.ThrottlingException'], ...backoff }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Package · Bundle · failed' }],
      Next: 'Publish · enter stage',
    });
    // The buildspec is one that CodeBuild (and the local runner) reads: the commands in one phase, the
    // declared variables exported, the output artifact's files as the action names them.
    const { buildspec } = parseBuildspecText(state.Parameters.BuildspecOverride);
    expect(buildspec.phases.build?.commands).toStrictEqual(['npm ci', `export VERSION=$(node -p "require('./package.json').version")`]);
    expect(buildspec.env.exportedVariables).toStrictEqual(['VERSION']);
    expect(buildspec.artifacts?.files).toStrictEqual(['dist/**/*', 'manifest.json']);
    // A later action reads its variable where CodeBuild reports it.
    const later = definition.States['Publish · Announce'] as State & { Parameters: { EnvironmentVariablesOverride: Array<Record<string, string>> } };
    expect(later.Parameters.EnvironmentVariablesOverride.at(-1)).toStrictEqual({
      Name: 'VERSION',
      Type: 'PLAINTEXT',
      'Value.$': "States.ArrayGetItem($.actions.Package_Bundle.exportedVariables[?(@.Name=='VERSION')].Value, 0)",
    });
    expect(iam).toContainEqual({
      Effect: 'Allow',
      Action: ['codebuild:BatchGetBuilds', 'codebuild:StartBuild', 'codebuild:StopBuild'],
      Resource: expect.arrayContaining(['arn:aws:codebuild:us-east-1:000000000000:project/stepline-web-Package-Bundle']),
    });
  });

  it('exports every file of its directory when the output artifact names no files, and nothing without one', () => {
    const spec = (actions: string) => {
      const { definition } = compilePipeline(parsePipelineText(pipeline(actions, false)));
      const state = definition.States['Package · Bundle'] as State & { Parameters: { BuildspecOverride: string } };
      return parseBuildspecText(state.Parameters.BuildspecOverride).buildspec;
    };
    expect(spec('      - { name: Bundle, kind: commands, inputArtifacts: [Src], outputArtifacts: [Out], commands: [make] }').artifacts?.files).toStrictEqual([
      '**/*',
    ]);
    const bare = spec('      - { name: Bundle, kind: commands, inputArtifacts: [Src], commands: [make] }');
    expect(bare.artifacts).toBeUndefined();
    expect(bare.env.exportedVariables).toStrictEqual([]);
  });

  it('refuses what CodePipeline refuses, each problem with its path', () => {
    const at = '      - { name: Bundle, kind: commands, namespace: PackageVars, outputVariables: [VERSION],';
    expect(problems(pipeline(`${at} inputArtifacts: [Src], commands: ["echo a\\necho b"] }`))).toStrictEqual([
      'stages[1].actions[0].commands[0]: expected one line: the Commands action takes no multi-line commands, write one command per entry, got "echo a\\necho b"',
    ]);
    expect(problems(pipeline(`${at} inputArtifacts: [Src], commands: [] }`))).toStrictEqual(['stages[1].actions[0].commands: expected at least one command']);
    expect(problems(pipeline(`${at} inputArtifacts: [Src], commands: [${Array(51).fill('x').join(', ')}] }`))).toStrictEqual([
      'stages[1].actions[0].commands: expected at most 50 commands',
    ]);
    expect(problems(pipeline(`${at} inputArtifacts: [Src], timeoutMinutes: 60, commands: [make] }`))).toStrictEqual([
      'stages[1].actions[0].timeoutMinutes: expected at most 55 minutes, got 60',
    ]);
    expect(problems(pipeline(`${at} commands: [make] }`))).toStrictEqual([
      'stages[1].actions[0].inputArtifacts: a commands action needs at least one input artifact: the commands run in the first',
    ]);
    expect(problems(pipeline(`${at} inputArtifacts: [Src], outputArtifacts: [A, B], commands: [make] }`))).toStrictEqual([
      'stages[1].actions[0].outputArtifacts: a commands action produces at most one artifact, got 2',
    ]);
    expect(problems(pipeline(`${at} inputArtifacts: [Src], outputFiles: [dist], commands: [make] }`))).toStrictEqual([
      'stages[1].actions[0].outputFiles: names the files of an output artifact, but the action declares none',
    ]);
    expect(problems(pipeline(`${at} inputArtifacts: [Src], commands: ["echo #{SourceVariables.CommitId}"] }`))).toStrictEqual([
      'stages[1].actions[0].commands[0]: variable references are not resolved in this field',
    ]);
    // Only what it declares is exported: a later reference to anything else is an error before running.
    expect(problems(pipeline('      - { name: Bundle, kind: commands, namespace: PackageVars, inputArtifacts: [Src], commands: [make] }'))).toStrictEqual([
      'stages[2].actions[0].environmentVariables.VERSION: unknown variable "VERSION" in #{PackageVars.VERSION}',
    ]);
  });
});
