import { describe, expect, it } from 'vitest';
import { refusalOf } from '../testing';
import { definePipeline, parsePipeline, parsePipelineText } from './parse';

const SOURCE_STAGE = `
  - name: Source
    actions:
      - name: Checkout
        kind: source
        repository: acme/web
        namespace: SourceVariables
        outputArtifacts: [Src]`;

/** The `web` pipeline: its source stage, then `stages` (YAML list items). */
const web = (stages: string) => `name: web\nstages:${SOURCE_STAGE}\n${stages}`;

/** The issues a definition is refused with, as `path: message` lines. */
const problems = (yaml: string) => refusalOf(() => parsePipelineText(yaml, 'stepline.yml'));

describe('parsePipelineText', () => {
  it('parses a pipeline and fills the defaults a CodePipeline user expects', () => {
    const pipeline = parsePipelineText(`
name: web
stages:${SOURCE_STAGE}
  - name: Build
    actions:
      - { name: Build, kind: build, inputArtifacts: [Src] }
      - { name: Approve, kind: approval, runOrder: 2 }
`);
    expect(pipeline.executionMode).toBe('SUPERSEDED');
    const [build, approve] = pipeline.stages[1]?.actions ?? [];
    expect(build).toMatchObject({ kind: 'build', runOrder: 1, buildspec: 'buildspec.yml', environmentVariables: {}, outputArtifacts: [] });
    expect(approve).toMatchObject({ kind: 'approval', runOrder: 2 });
    expect(pipeline.stages[0]?.actions[0]).toMatchObject({ provider: 'GitHub', branch: 'main' });
  });

  it('reports every schema problem of a file at once, each with its path and what was given', () => {
    expect(
      problems(
        web(`
  - name: Build
    actions:
      - { name: Build, kind: build, inputArtifacts: [Src], runOrder: two }
      - { name: Lint, kind: buidl }
      - { name: Test, kind: test, inputArtifacts: [Src], buildSpec: x.yml }
`),
      ),
    ).toStrictEqual([
      'stages[1].actions[0].runOrder: expected a positive integer, got "two"',
      'stages[1].actions[1].kind: expected kind to be one of source, build, test, approval, deploy, codedeploy, invoke, s3deploy, cloudformation, stepfunctions, commands, got "buidl"',
      'stages[1].actions[2].buildSpec: unknown key',
    ]);
  });

  it('names the line and column of malformed YAML', () => {
    expect(problems('name: web\nstages: [\n  - a: b\n')).toStrictEqual([expect.stringMatching(/^: malformed YAML at line \d+, column \d+: /)]);
  });

  it('refuses duplicate stage and action names', () => {
    expect(
      problems(
        web(`
  - name: Build
    actions:
      - { name: Unit, kind: test, inputArtifacts: [Src] }
      - { name: Unit, kind: test, inputArtifacts: [Src], runOrder: 2 }
  - name: Build
    actions:
      - { name: Ok, kind: approval }
`),
      ),
    ).toStrictEqual([
      'stages[1].actions[1].name: duplicate action name "Unit" in stage Build (also actions[0])',
      'stages[2].name: duplicate stage name "Build" (also stages[1])',
    ]);
  });

  it('refuses an artifact consumed before it is produced, or never produced', () => {
    expect(
      problems(
        web(`
  - name: Build
    actions:
      - { name: Test, kind: test, inputArtifacts: [Bin] }
      - { name: Build, kind: build, inputArtifacts: [Src], outputArtifacts: [Bin] }
      - { name: Ship, kind: invoke, command: ./ship, inputArtifacts: [Nope], runOrder: 2 }
`),
      ),
    ).toStrictEqual([
      'stages[1].actions[0].inputArtifacts[0]: artifact "Bin" is consumed before it is produced (by Build.Build (stages[1].actions[1]))',
      'stages[1].actions[2].inputArtifacts[0]: artifact "Nope" is not produced by any action',
    ]);
  });

  it('checks #{Namespace.Variable} references: known namespace, known variable, declared earlier', () => {
    expect(
      problems(`
name: web
variables: [{ name: ENV, default: staging }]
stages:${SOURCE_STAGE}
  - name: Build
    actions:
      - name: Build
        kind: build
        inputArtifacts: [Src]
        environmentVariables:
          OK: "#{SourceVariables.CommitId}-#{variables.ENV}"
          LATER: "#{DeployVars.Url}"
          NOPE: "#{Nope.X}"
          TYPO: "#{SourceVariables.CommitID}"
          MISSING: "#{variables.REGION}"
  - name: Deploy
    actions:
      - { name: Smoke, kind: invoke, command: ./smoke, namespace: DeployVars }
`),
    ).toStrictEqual([
      'stages[1].actions[0].environmentVariables.LATER: #{DeployVars.Url} refers to namespace "DeployVars" of Deploy.Smoke (stages[2].actions[0]), which does not run before this action',
      'stages[1].actions[0].environmentVariables.NOPE: unknown namespace "Nope" in #{Nope.X} (known: SourceVariables, DeployVars)',
      'stages[1].actions[0].environmentVariables.TYPO: unknown variable "CommitID" in #{SourceVariables.CommitID} (known: CommitId, BranchName, CommitMessage, AuthorName, AuthorDate, FullRepositoryName, ProviderType)',
      'stages[1].actions[0].environmentVariables.MISSING: unknown pipeline variable "REGION" in #{variables.REGION} (known: ENV)',
    ]);
  });

  it('refuses references in fields that are not resolved, and actions outside their place', () => {
    expect(
      problems(`
name: web
stages:
  - name: Source
    actions:
      - { name: Checkout, kind: source, repository: "#{variables.X}", outputArtifacts: [Src] }
      - { name: Early, kind: approval }
  - name: Build
    actions:
      - { name: Again, kind: source, repository: a/b, outputArtifacts: [Src2] }
`),
    ).toStrictEqual([
      'stages[0].actions[1].kind: the first stage may hold only source actions, got approval',
      'stages[1].actions[0].kind: source actions belong in the first stage',
      'stages[0].actions[0].repository: variable references are not resolved in this field',
    ]);
  });

  it('validates canary steps: exactly one of setWeight, pause, checkAlarms', () => {
    expect(
      problems(
        web(`
  - name: Deploy
    actions:
      - name: Canary
        kind: deploy
        inputArtifacts: [Src]
        local: { command: node app.js }
        strategy:
          steps:
            - { setWeight: 10, pause: { minutes: 1 } }
            - {}
            - { setWeight: 150 }
`),
      ),
    ).toStrictEqual([
      'stages[1].actions[0].strategy.steps[0]: expected exactly one of setWeight, pause, checkAlarms, got setWeight and pause',
      'stages[1].actions[0].strategy.steps[1]: expected exactly one of setWeight, pause, checkAlarms',
      'stages[1].actions[0].strategy.steps[2].setWeight: expected a weight from 0 to 100, got 150',
    ]);
  });
});

describe('Lambda deploy actions', () => {
  const deploy = (body: string) => `
name: fn
stages:${SOURCE_STAGE}
  - name: Deploy
    actions:
      - name: Shift
        kind: deploy
        inputArtifacts: [Src]
${body}`;

  it('take a Lambda configuration and the two Lambda hooks', () => {
    const pipeline = parsePipelineText(
      deploy(`        strategy: CodeDeployDefault.LambdaCanary10Percent5Minutes
        lambda: { functionName: orders, alias: live, targetVersion: '7' }
        hooks: { BeforeAllowTraffic: pre-check, AfterAllowTraffic: { function: smoke, command: ./smoke.sh } }`),
    );
    expect(pipeline.stages[1]?.actions[0]).toMatchObject({
      strategy: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
      lambda: { functionName: 'orders', alias: 'live', targetVersion: '7' },
    });
  });

  it('are refused with the path of what does not fit a Lambda deployment', () => {
    expect(
      problems(
        deploy(`        strategy: CodeDeployDefault.ECSCanary10Percent5Minutes
        lambda: { functionName: orders, alias: '12', currentVersion: $LATEST }
        hooks: { BeforeInstall: prep, AfterAllowTestTraffic: test }`),
      ),
    ).toStrictEqual([
      'stages[1].actions[0].lambda.alias: expected an alias name: letters, digits, - and _, not only digits, got "12"',
      'stages[1].actions[0].lambda.currentVersion: expected a published version number such as 3, got "$LATEST"',
      'stages[1].actions[0].strategy: CodeDeployDefault.ECSCanary10Percent5Minutes is for ECS; a Lambda target takes a CodeDeployDefault.Lambda* configuration',
      'stages[1].actions[0].hooks.BeforeInstall: a Lambda deployment runs only BeforeAllowTraffic and AfterAllowTraffic hooks',
      'stages[1].actions[0].hooks.AfterAllowTestTraffic: a Lambda deployment runs only BeforeAllowTraffic and AfterAllowTraffic hooks',
    ]);
    expect(
      problems(
        deploy(`        strategy: CodeDeployDefault.LambdaLinear10PercentEvery1Minute
        ecs: { cluster: prod, service: web }
        lambda: { functionName: orders, alias: live }`),
      ),
    ).toStrictEqual(['stages[1].actions[0].lambda: expected an ecs target or a lambda target, not both: one deployment shifts one kind of traffic']);
    expect(
      problems(
        deploy(`        strategy: CodeDeployDefault.LambdaAllAtOnce
        ecs: { cluster: prod, service: web }`),
      ),
    ).toStrictEqual([
      'stages[1].actions[0].strategy: CodeDeployDefault.LambdaAllAtOnce is for Lambda; an ECS target takes a CodeDeployDefault.ECS* configuration',
    ]);
  });
});

describe('definePipeline', () => {
  it('is validated like a YAML file when loaded', () => {
    const definition = definePipeline({
      name: 'typed',
      stages: [
        { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['Src'] }] },
        { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['Src'] }] },
      ],
    });
    expect(parsePipeline(definition).stages[1]?.actions[0]?.kind).toBe('build');
    expect(() => parsePipeline({ ...definition, stages: [definition.stages[0]] }, 'typed.ts')).toThrow(
      'typed.ts: stages: expected at least two stages: a source stage and one that uses it',
    );
  });
});
