import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../errors';
import { parsePipelineText } from '../model/parse';
import { refusalOf } from '../testing';
import { compilePipeline } from './compile';
import { type State, type StateMachineDefinition, validateGraph, validateStateMachine } from './states';

const backoff = { IntervalSeconds: 2, MaxAttempts: 5, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' };
/** Tasks of stepline's own functions also retry Stepline.Transient (GitHub or S3 stayed throttled). */
const functionRetry = [
  {
    ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'Stepline.Transient'],
    ...backoff,
  },
];
const codeBuildRetry = [{ ErrorEquals: ['CodeBuild.AccountLimitExceededException', 'CodeBuild.ThrottlingException'], ...backoff }];
const catchTo = (next: string) => [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: next }];
/** The gate Task at a stage's entry of the `tiny` pipeline, as the AWS target compiles it. */
const gateOf = (stage: string, next: string) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
  Parameters: {
    FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:stepline-gate',
    Payload: {
      'taskToken.$': '$$.Task.Token',
      pipeline: 'tiny',
      stage,
      'executionId.$': '$$.Execution.Name',
      executionMode: 'SUPERSEDED',
      firstStage: stage === 'Source',
    },
  },
  ResultPath: null,
  TimeoutSeconds: 2592000,
  Retry: functionRetry,
  Catch: catchTo(`${stage} · enter stage · failed`),
  Next: next,
});

const SOURCE = `
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/web, outputArtifacts: [Src], namespace: SourceVariables }]`;

const compileYaml = (yaml: string) => compilePipeline(parsePipelineText(yaml));
/** Compiles the pipeline `name`: the source stage, then `stages` (YAML list items). */
const compileStages = (name: string, stages: string) => compileYaml(`name: ${name}\nstages:${SOURCE}\n${stages}`);

/** Every state of a machine, nested ones included, by name. */
function allStates(machine: { States: Record<string, State> }): Record<string, State> {
  const out: Record<string, State> = {};
  for (const [name, state] of Object.entries(machine.States)) {
    out[name] = state;
    if (state.Type === 'Parallel') for (const b of state.Branches) Object.assign(out, allStates(b));
    if (state.Type === 'Map') Object.assign(out, allStates(state.ItemProcessor));
  }
  return out;
}

describe('compilePipeline', () => {
  it('renders a two-stage pipeline as the whole expected state machine', () => {
    const { definition } = compileYaml(`
name: tiny
variables: [{ name: ENV, default: dev }]
stages:${SOURCE}
  - name: Build
    actions: [{ name: Make, kind: build, inputArtifacts: [Src], environmentVariables: { TAG: "v-#{SourceVariables.CommitId}" } }]
`);
    expect(definition).toStrictEqual(EXPECTED);
  });

  it('passes PARAMETER_STORE and SECRETS_MANAGER variables to CodeBuild as references of their type', () => {
    const { definition } = compileStages(
      'refs',
      `  - name: Build
    actions: [{ name: Make, kind: build, inputArtifacts: [Src], parameterStore: { TOKEN: /ci/token }, secretsManager: { DB: "ci/db:password" } }]
`,
    );
    const state = definition.States['Build · Make'];
    const env = state?.Type === 'Task' ? (state.Parameters as { EnvironmentVariablesOverride: unknown[] }).EnvironmentVariablesOverride : [];
    expect(env.slice(-2)).toStrictEqual([
      { Name: 'TOKEN', Type: 'PARAMETER_STORE', Value: '/ci/token' },
      { Name: 'DB', Type: 'SECRETS_MANAGER', Value: 'ci/db:password' },
    ]);
  });

  it('compiles an s3deploy action to one invoke of the s3-deploy function, objectKey resolved at run time', () => {
    const { definition, iam } = compilePipeline(
      parsePipelineText(`
name: site
stages:${SOURCE}
  - name: Deploy
    actions: [{ name: Publish, kind: s3deploy, inputArtifacts: [Src], bucket: www.example.com, objectKey: "v/#{SourceVariables.CommitId}", cannedAcl: public-read, cacheControl: max-age=60, kmsEncryptionKeyArn: "arn:aws:kms:eu-west-1:1:key/k" }]
`),
      { target: 'aws', region: 'eu-west-1', accountId: '111122223333' },
    );
    expect(definition.States['Deploy · Publish']).toStrictEqual({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: 'arn:aws:lambda:eu-west-1:111122223333:function:stepline-s3-deploy',
        Payload: {
          pipeline: 'site',
          stage: 'Deploy',
          action: 'Publish',
          'executionId.$': '$$.Execution.Name',
          operation: 's3deploy',
          artifact: { name: 'Src', 'location.$': "States.Format('stepline-artifacts/site/{}/Src/', $$.Execution.Name)" },
          extract: true,
          bucket: 'www.example.com',
          'objectKey.$': "States.Format('v/{}', $.actions.Source_Checkout.variables.CommitId)",
          kmsEncryptionKeyArn: 'arn:aws:kms:eu-west-1:1:key/k',
          cannedAcl: 'public-read',
          cacheControl: 'max-age=60',
        },
      },
      ResultSelector: { 'output.$': '$.Payload' },
      ResultPath: '$.actions.Deploy_Publish',
      TimeoutSeconds: 900,
      Retry: functionRetry,
      Catch: catchTo('Deploy · Publish · failed'),
      Next: 'Succeeded',
    });
    expect(iam).toContainEqual({
      Effect: 'Allow',
      Action: ['lambda:InvokeFunction'],
      Resource: expect.arrayContaining(['arn:aws:lambda:eu-west-1:111122223333:function:stepline-s3-deploy']),
    });
  });

  it('refuses an s3deploy without exactly one input, and without objectKey when it does not extract', () => {
    expect(() =>
      compileStages(
        'site',
        `  - name: Deploy
    actions: [{ name: Publish, kind: s3deploy, bucket: b-site, extract: false }]
`,
      ),
    ).toThrow(/stages\[1\]\.actions\[0\]: expected objectKey: without extract the artifact goes to one object/);
    expect(() =>
      compileStages(
        'site',
        `  - name: Deploy
    actions: [{ name: Publish, kind: s3deploy, bucket: b-site }]
`,
      ),
    ).toThrow('stages[1].actions[0].inputArtifacts: an s3deploy action takes exactly one input artifact: the files it deploys');
  });

  it('runs actions that share a runOrder in one Parallel state, then merges their results', () => {
    const { definition, stateMap } = compileStages(
      'par',
      `  - name: Build
    actions:
      - { name: Compile, kind: build, inputArtifacts: [Src] }
      - { name: Unit, kind: test, inputArtifacts: [Src] }
      - { name: Package, kind: build, inputArtifacts: [Src], runOrder: 2 }
`,
    );
    const group = definition.States['Build · run order 1'];
    expect(group?.Type).toBe('Parallel');
    if (group?.Type !== 'Parallel') return;
    expect(group.Branches.map((b) => b.StartAt)).toStrictEqual(['Build · Compile', 'Build · Unit']);
    expect(group.ResultSelector).toStrictEqual({ 'Build_Compile.$': '$[0].actions.Build_Compile', 'Build_Unit.$': '$[1].actions.Build_Unit' });
    expect(group.Next).toBe('Build · run order 1 done');
    expect(definition.States['Build · run order 1 done']).toStrictEqual({
      Type: 'Pass',
      Parameters: { 'input.$': '$.input', 'variables.$': '$.variables', 'actions.$': 'States.JsonMerge($.actions, $.parallel, false)' },
      Next: 'Build · Package',
    });
    expect(stateMap['Build · Unit']).toStrictEqual({ role: 'action', stage: 'Build', action: 'Unit', kind: 'test', final: true });
    // A branch's failure already names its action; the Parallel passes it straight to Failed.
    expect(group.Branches[1]?.States['Build · Unit · stop branch']).toStrictEqual({ Type: 'Fail', ErrorPath: '$.failure.Error', CausePath: '$.failure.Cause' });
    expect(group.Catch).toStrictEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Failed' }]);
  });

  it('compiles references to the place their values live at run time', () => {
    const { definition } = compileYaml(`
name: refs
variables: [{ name: REGION, default: eu-west-1 }]
stages:${SOURCE}
  - name: Build
    actions:
      - { name: Image, kind: build, inputArtifacts: [Src], namespace: BuildVars }
  - name: Check
    actions:
      - name: Smoke
        kind: invoke
        function: smoke-test
        namespace: Smoke
        userParameters: "{'tag': '#{BuildVars.TAG}', 'p': '#{codepipeline.PipelineName}'}"
      - name: Approve
        kind: approval
        runOrder: 2
        customData: "#{Smoke.url} in #{variables.REGION} (#{codepipeline.PipelineExecutionId})"
`);
    const smoke = definition.States['Check · Smoke'];
    const approve = definition.States['Check · Approve'];
    expect(smoke?.Type === 'Task' && smoke.Parameters?.Payload).toMatchObject({
      'userParameters.$': String.raw`States.Format('\{\'tag\': \'{}\', \'p\': \'refs\'\}', States.ArrayGetItem($.actions.Build_Image.exportedVariables[?(@.Name=='TAG')].Value, 0))`,
    });
    expect(approve?.Type === 'Task' && approve.Parameters?.Payload).toMatchObject({
      'customData.$': "States.Format('{} in {} ({})', $.actions.Check_Smoke.output.outputVariables.url, $.variables.REGION, $$.Execution.Name)",
    });
    const build = definition.States['Build · Image'];
    expect(build?.Type === 'Task' && build.ResultSelector).toStrictEqual({
      'buildId.$': '$.Build.Id',
      'buildNumber.$': '$.Build.BuildNumber',
      'status.$': '$.Build.BuildStatus',
      'exportedVariables.$': '$.Build.ExportedEnvironmentVariables',
    });
  });

  it("reads a build's exported variables only when they are declared or referred to", () => {
    const { definition } = compileStages(
      'vars',
      `  - name: Build
    actions:
      - { name: Quiet, kind: build, inputArtifacts: [Src], namespace: QuietVars }
      - { name: Declared, kind: build, inputArtifacts: [Src], namespace: DeclaredVars, outputVariables: [TAG] }
`,
    );
    const selector = (name: string) => {
      const group = definition.States['Build · run order 1'];
      const state = group?.Type === 'Parallel' ? group.Branches.flatMap((b) => Object.entries(b.States)).find(([n]) => n === name)?.[1] : undefined;
      return state?.Type === 'Task' ? state.ResultSelector : undefined;
    };
    expect(selector('Build · Quiet')).not.toHaveProperty(['exportedVariables.$']);
    expect(selector('Build · Declared')).toHaveProperty(['exportedVariables.$'], '$.Build.ExportedEnvironmentVariables');
  });

  it('bounds every Task with a timeout: approvals 7 days unless told, builds their own plus queue time', () => {
    const { definition } = compileStages(
      'times',
      `  - name: Gate
    actions:
      - { name: Default, kind: approval }
      - { name: Quick, kind: approval, timeoutMinutes: 30 }
      - { name: Long, kind: build, inputArtifacts: [Src], timeoutMinutes: 120 }
`,
    );
    const states = allStates(definition);
    for (const [name, state] of Object.entries(states)) if (state.Type === 'Task') expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
    const seconds = (name: string) => {
      const s = states[name];
      return s?.Type === 'Task' ? s.TimeoutSeconds : undefined;
    };
    expect(seconds('Gate · Default')).toBe(7 * 24 * 3600);
    expect(seconds('Gate · Quick')).toBe(1800);
    expect(seconds('Gate · Long')).toBe((120 + 60) * 60);
  });

  it('targets the real integrations and grants exactly what they use', () => {
    const { definition, iam } = compileStages(
      'real',
      `  - name: Build
    actions: [{ name: Make, kind: build, inputArtifacts: [Src], project: existing-project }]
  - name: Approve
    actions: [{ name: Ok, kind: approval }]
`,
    );
    const states = allStates(definition);
    const resources = Object.values(states).flatMap((s) => (s.Type === 'Task' ? [s.Resource] : []));
    expect(new Set(resources)).toStrictEqual(
      new Set(['arn:aws:states:::lambda:invoke', 'arn:aws:states:::lambda:invoke.waitForTaskToken', 'arn:aws:states:::codebuild:startBuild.sync']),
    );
    expect(iam).toStrictEqual([
      {
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [
          'arn:aws:lambda:us-east-1:000000000000:function:stepline-approval-request',
          'arn:aws:lambda:us-east-1:000000000000:function:stepline-gate',
          'arn:aws:lambda:us-east-1:000000000000:function:stepline-source',
        ],
      },
      {
        Effect: 'Allow',
        Action: ['codebuild:BatchGetBuilds', 'codebuild:StartBuild', 'codebuild:StopBuild'],
        Resource: ['arn:aws:codebuild:us-east-1:000000000000:project/existing-project'],
      },
      {
        Effect: 'Allow',
        Action: ['events:DescribeRule', 'events:PutRule', 'events:PutTargets'],
        Resource: ['arn:aws:events:us-east-1:000000000000:rule/StepFunctionsGetEventForCodeBuildStartBuildRule'],
      },
    ]);
    expect(validateStateMachine(definition)).toStrictEqual([]);
  });

  it('warns, without failing, about what a target lacks to run an action', () => {
    const pipeline = parsePipelineText(`
name: targets
stages:${SOURCE}
  - name: Deploy
    actions:
      - { name: Script, kind: invoke, command: ./deploy.sh }
      - { name: Canary, kind: deploy, inputArtifacts: [Src], ecs: { cluster: c, service: s } }
`);
    expect(compilePipeline(pipeline, { target: 'aws' }).warnings).toStrictEqual([
      { path: 'stages[1].actions[0].function', message: 'an invoke action needs a function to run on AWS (a command runs only on one machine)' },
      { path: 'stages[1].actions[1].ecs', message: 'to deploy on AWS, set containerName, containerPort, listenerArn, targetGroups, subnets, securityGroups' },
    ]);
    expect(compilePipeline(pipeline, { target: 'local' }).warnings).toStrictEqual([
      { path: 'stages[1].actions[1].local', message: 'a deploy action needs a local target (local.command) to run on one machine' },
    ]);
  });

  it('refuses state names longer than Step Functions allows, naming them', () => {
    const long = 'A'.repeat(70);
    expect(() => compileYaml(`name: long\nstages:${SOURCE}\n  - name: ${long}\n    actions: [{ name: Approve, kind: approval }]\n`)).toThrow(DefinitionError);
    expect(() => compileYaml(`name: long\nstages:${SOURCE}\n  - name: ${long}\n    actions: [{ name: Approve, kind: approval }]\n`)).toThrow(
      `long: 2 problems\n  - stages[1].actions[0].name: makes the state name "${long} · Approve · failed" (89 characters), longer than the 80 Step Functions allows: shorten the stage or action name\n  - stages[1].name: makes the state name "${long} · enter stage · failed" (93 characters), longer than the 80 Step Functions allows: shorten the stage or action name`,
    );
  });
});

describe('validateGraph', () => {
  const ok = (): StateMachineDefinition => ({
    StartAt: 'A',
    States: { A: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', TimeoutSeconds: 5, Next: 'B' }, B: { Type: 'Succeed' } },
  });

  it('accepts a sound graph', () => {
    expect(validateGraph(ok())).toStrictEqual([]);
  });

  it('names transitions to missing states, unreachable states, untimed tasks and duplicate names', () => {
    const broken = ok();
    broken.States.A = { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', TimeoutSeconds: 0, Next: 'Nowhere' };
    broken.States.C = { Type: 'Parallel', Branches: [{ StartAt: 'A', States: { A: { Type: 'Succeed' } } }], End: true };
    expect(validateGraph(broken)).toStrictEqual([
      'States.A: transition to "Nowhere", which is not a state of this machine',
      'States.A: a Task needs TimeoutSeconds',
      'States.C.Branches[0]: state name "A" is used twice',
      'States.B: unreachable',
      'States.C: unreachable',
    ]);
  });
});

const EXPECTED = {
  Comment: 'stepline pipeline tiny',
  QueryLanguage: 'JSONPath',
  StartAt: 'Start',
  States: {
    Start: {
      Type: 'Choice',
      Choices: [{ Variable: '$.resume', IsPresent: true, Next: 'Resume' }],
      Default: 'Initialize',
    },
    Resume: {
      Type: 'Pass',
      Parameters: {
        'input.$': '$.resume.state.input',
        'variables.$': '$.resume.state.variables',
        'actions.$': '$.resume.state.actions',
        'resumeStage.$': '$.resume.stage',
      },
      Next: 'Resume at stage',
    },
    'Resume at stage': {
      Type: 'Choice',
      Choices: [
        { Variable: '$.resumeStage', StringEquals: 'Source', Next: 'Source · enter stage' },
        { Variable: '$.resumeStage', StringEquals: 'Build', Next: 'Build · enter stage' },
      ],
      Default: 'Resume refused',
    },
    'Resume refused': { Type: 'Fail', Error: 'Stepline.DefinitionInvalid', Cause: 'resume names a stage this pipeline does not have' },
    Initialize: {
      Type: 'Pass',
      Parameters: {
        'input.$': '$',
        defaults: {
          ENV: 'dev',
        },
        blank: { pipeline: 'tiny', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {}, sourceRevisions: [] },
      },
      Next: 'Complete input',
    },
    'Complete input': {
      Type: 'Pass',
      Parameters: { 'input.$': 'States.JsonMerge($.blank, $.input, false)', 'defaults.$': '$.defaults' },
      Next: 'Resolve variables',
    },
    'Resolve variables': {
      Type: 'Pass',
      Parameters: {
        'input.$': '$.input',
        'variables.$': 'States.JsonMerge($.defaults, $.input.variables, false)',
        actions: {},
      },
      Next: 'Source · enter stage',
    },
    'Source · enter stage': gateOf('Source', 'Source · Checkout'),
    'Source · Checkout': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:stepline-source',
        Payload: {
          pipeline: 'tiny',
          stage: 'Source',
          action: 'Checkout',
          'executionId.$': '$$.Execution.Name',
          provider: 'GitHub',
          repository: 'acme/web',
          branch: 'main',
          outputArtifact: 'Src',
          artifactBucket: 'stepline-artifacts',
          'trigger.$': '$.input.source',
          'sourceRevisions.$': '$.input.sourceRevisions',
        },
      },
      ResultSelector: {
        'variables.$': '$.Payload.variables',
      },
      ResultPath: '$.actions.Source_Checkout',
      TimeoutSeconds: 600,
      Retry: functionRetry,
      Catch: catchTo('Source · Checkout · failed'),
      Next: 'Build · enter stage',
    },
    'Build · enter stage': gateOf('Build', 'Build · Make'),
    'Build · Make': {
      Type: 'Task',
      Resource: 'arn:aws:states:::codebuild:startBuild.sync',
      Parameters: {
        ProjectName: 'stepline-tiny-Build-Make',
        'SourceVersion.$': '$.actions.Source_Checkout.variables.CommitId',
        BuildspecOverride: 'buildspec.yml',
        TimeoutInMinutesOverride: 60,
        EnvironmentVariablesOverride: [
          {
            Name: 'STEPLINE_PIPELINE',
            Type: 'PLAINTEXT',
            Value: 'tiny',
          },
          {
            Name: 'STEPLINE_EXECUTION_ID',
            Type: 'PLAINTEXT',
            'Value.$': '$$.Execution.Name',
          },
          {
            Name: 'STEPLINE_STAGE',
            Type: 'PLAINTEXT',
            Value: 'Build',
          },
          {
            Name: 'STEPLINE_ACTION',
            Type: 'PLAINTEXT',
            Value: 'Make',
          },
          {
            Name: 'ENV',
            Type: 'PLAINTEXT',
            'Value.$': '$.variables.ENV',
          },
          {
            Name: 'TAG',
            Type: 'PLAINTEXT',
            'Value.$': "States.Format('v-{}', $.actions.Source_Checkout.variables.CommitId)",
          },
        ],
        ArtifactsOverride: {
          Type: 'NO_ARTIFACTS',
        },
      },
      ResultSelector: {
        'buildId.$': '$.Build.Id',
        'buildNumber.$': '$.Build.BuildNumber',
        'status.$': '$.Build.BuildStatus',
      },
      ResultPath: '$.actions.Build_Make',
      TimeoutSeconds: 7200,
      Retry: codeBuildRetry,
      Catch: catchTo('Build · Make · failed'),
      Next: 'Succeeded',
    },
    Succeeded: {
      Type: 'Succeed',
    },
    'Build · Make · failed': {
      Type: 'Pass',
      Parameters: {
        'Error.$': '$.failure.Error',
        'Cause.$': "States.Format('Stage Build, action Make failed: {}', $.failure.Cause)",
      },
      ResultPath: '$.failure',
      Next: 'Failed',
    },
    Failed: {
      Type: 'Fail',
      ErrorPath: '$.failure.Error',
      CausePath: '$.failure.Cause',
    },
    'Build · enter stage · failed': {
      Type: 'Pass',
      Parameters: {
        'Error.$': '$.failure.Error',
        'Cause.$': "States.Format('Stage Build was not entered: {}', $.failure.Cause)",
      },
      ResultPath: '$.failure',
      Next: 'Failed',
    },
    'Source · Checkout · failed': {
      Type: 'Pass',
      Parameters: {
        'Error.$': '$.failure.Error',
        'Cause.$': "States.Format('Stage Source, action Checkout failed: {}', $.failure.Cause)",
      },
      ResultPath: '$.failure',
      Next: 'Failed',
    },
    'Source · enter stage · failed': {
      Type: 'Pass',
      Parameters: {
        'Error.$': '$.failure.Error',
        'Cause.$': "States.Format('Stage Source was not entered: {}', $.failure.Cause)",
      },
      ResultPath: '$.failure',
      Next: 'Failed',
    },
  },
};

describe('the definition size limit (target aws)', () => {
  /** A build whose one environment variable takes `count` characters of `char`. */
  const withValue = (char: string, count: number) =>
    parsePipelineText(`
name: big
stages:${SOURCE}
  - name: Build
    actions: [{ name: Make, kind: build, inputArtifacts: [Src], environmentVariables: { NOTE: "${char.repeat(count)}" } }]
`);

  it('counts UTF-8 bytes, as Step Functions does: fewer than 1 MiB characters can be more than 1 MiB bytes', () => {
    const pipeline = withValue('€', 400_000);
    const local = compilePipeline(pipeline);
    expect(JSON.stringify(local.definition).length).toBeLessThan(1024 * 1024);
    expect(() => compilePipeline(pipeline, { target: 'aws' })).toThrow(
      /stages: the state machine is \d+ bytes \(\d+ KiB of UTF-8\); Step Functions accepts at most 1048576 bytes: split the pipeline into two pipelines/,
    );
  });

  it('accepts a definition just under the limit', () => {
    expect(compilePipeline(withValue('e', 1_000_000), { target: 'aws' }).warnings).toStrictEqual([]);
  });
});

describe('CodeBuild identifiers', () => {
  const pipeline = (outputs: string, inputs = '[Src]') =>
    parsePipelineText(`
name: ids
stages:${SOURCE}
  - name: Build
    actions: [{ name: Make, kind: build, inputArtifacts: [Src], outputArtifacts: [App, Extra-Out] }]
  - name: Test
    actions: [{ name: Check, kind: test, inputArtifacts: ${inputs}, outputArtifacts: ${outputs} }]
`);
  const task = (definition: StateMachineDefinition, name: string) => allStates(definition)[name] as { Parameters: Record<string, unknown> };

  it('are letters, digits and _ only, as CodeBuild accepts them', () => {
    const { definition } = compilePipeline(pipeline('[Report]', '[Src, Extra-Out]'), { target: 'aws' });
    expect(task(definition, 'Build · Make').Parameters.SecondaryArtifactsOverride).toMatchObject([{ ArtifactIdentifier: 'Extra_Out', Name: 'Extra-Out' }]);
    expect(task(definition, 'Test · Check').Parameters.SecondarySourcesOverride).toMatchObject([{ Type: 'S3', SourceIdentifier: 'Extra_Out' }]);
  });

  it('refuses two artifacts of one action that CodeBuild would know by the same identifier', () => {
    expect(() => compilePipeline(pipeline('[Report, Out-1, Out_1]'))).toThrow(
      'stages[2].actions[0].outputArtifacts: artifacts "Out-1" and "Out_1" are both "Out_1" to CodeBuild, which accepts letters, digits and _ in identifiers: rename one',
    );
  });
});

describe('the primary source of a build', () => {
  it('is the commit (SourceVersion) for a project stepline creates, and the stored source artifact for a project of the team’s own', () => {
    const { definition } = compilePipeline(
      parsePipelineText(`
name: web
stages:${SOURCE}
  - name: Build
    actions:
      - { name: Make, kind: build, inputArtifacts: [Src] }
      - { name: Lint, kind: test, project: shared-lint, inputArtifacts: [Src] }
`),
      { target: 'aws', artifactBucket: 'bkt' },
    );
    const states = allStates(definition) as Record<string, { Parameters: Record<string, unknown> }>;
    expect(states['Build · Make']?.Parameters).toMatchObject({ 'SourceVersion.$': '$.actions.Source_Checkout.variables.CommitId' });
    expect(states['Build · Lint']?.Parameters).toMatchObject({
      ProjectName: 'shared-lint',
      SourceTypeOverride: 'S3',
      'SourceLocationOverride.$': "States.Format('bkt/web/{}/Src/', $$.Execution.Name)",
    });
    expect(states['Build · Lint']?.Parameters).not.toHaveProperty('SourceVersion.$');
  });
});

describe('a batch build', () => {
  const batchYaml = (action: string) => `
name: web
stages:${SOURCE}
  - name: Build
    actions: [${action}]
`;

  it('compiles to startBuildBatch.sync with the per-build timeout, keeps the batch id, status and build groups, and grants the batch calls', () => {
    const { definition, iam } = compileYaml(
      batchYaml('{ name: Matrix, kind: build, inputArtifacts: [Src], outputArtifacts: [All], batchEnabled: true, combineArtifacts: true, timeoutMinutes: 20 }'),
    );
    const task = allStates(definition)['Build · Matrix'] as {
      Resource: string;
      Parameters: Record<string, unknown>;
      ResultSelector: unknown;
      TimeoutSeconds: number;
    };
    expect(task.Resource).toBe('arn:aws:states:::codebuild:startBuildBatch.sync');
    expect(task.Parameters).toMatchObject({ ProjectName: 'stepline-web-Build-Matrix', BuildTimeoutInMinutesOverride: 20, ArtifactsOverride: { Name: 'All' } });
    expect(task.Parameters).not.toHaveProperty('TimeoutInMinutesOverride');
    expect(task.ResultSelector).toStrictEqual({
      'buildBatchId.$': '$.BuildBatch.Id',
      'status.$': '$.BuildBatch.BuildBatchStatus',
      'builds.$': '$.BuildBatch.BuildGroups',
    });
    expect(task.TimeoutSeconds).toBe((20 + 60) * 60);
    expect(iam).toContainEqual({
      Effect: 'Allow',
      Action: ['codebuild:BatchGetBuildBatches', 'codebuild:StartBuildBatch', 'codebuild:StopBuildBatch'],
      Resource: ['arn:aws:codebuild:us-east-1:000000000000:project/stepline-web-Build-Matrix'],
    });
    expect(iam).toContainEqual({
      Effect: 'Allow',
      Action: ['events:DescribeRule', 'events:PutRule', 'events:PutTargets'],
      Resource: ['arn:aws:events:us-east-1:000000000000:rule/StepFunctionsGetEventForCodeBuildStartBuildBatchRule'],
    });
    expect(iam.flatMap((s) => s.Action)).not.toContain('codebuild:StartBuild');
    expect(validateStateMachine(definition)).toStrictEqual([]);
  });

  it('refuses what a batch cannot do, with the path', () => {
    const problems = (action: string) => refusalOf(() => compileYaml(batchYaml(action)));
    expect(problems('{ name: M, kind: build, inputArtifacts: [Src], combineArtifacts: true }')).toStrictEqual([
      'stages[1].actions[0].combineArtifacts: combines the artifacts of a batch: set batchEnabled: true',
    ]);
    expect(problems('{ name: M, kind: build, inputArtifacts: [Src], batchEnabled: true, outputArtifacts: [A] }')).toStrictEqual([
      "stages[1].actions[0].outputArtifacts: a batch's builds write their artifacts only with combineArtifacts: true (one artifact, a folder per build)",
    ]);
    expect(problems('{ name: M, kind: build, inputArtifacts: [Src], batchEnabled: true, combineArtifacts: true, outputArtifacts: [A, B] }')).toStrictEqual([
      "stages[1].actions[0].outputArtifacts: a batch with combineArtifacts produces exactly one artifact (every build's in a folder named by its identifier), got 2",
    ]);
    expect(problems('{ name: M, kind: build, inputArtifacts: [Src], batchEnabled: true, namespace: B, outputVariables: [V] }')).toStrictEqual([
      'stages[1].actions[0].outputVariables: a batch build exports no variables: each of its builds has its own; run the build that exports them as an action of its own',
    ]);
  });
});
