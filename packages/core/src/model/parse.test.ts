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
      problems(`
name: web
stages:${SOURCE_STAGE}
  - name: Build
    actions:
      - { name: Build, kind: build, inputArtifacts: [Src], runOrder: two }
      - { name: Lint, kind: buidl }
      - { name: Test, kind: test, inputArtifacts: [Src], buildSpec: x.yml }
`),
    ).toStrictEqual([
      'stages[1].actions[0].runOrder: expected a positive integer, got "two"',
      'stages[1].actions[1].kind: expected kind to be one of source, build, test, approval, deploy, invoke, s3deploy, cloudformation, commands, got "buidl"',
      'stages[1].actions[2].buildSpec: unknown key',
    ]);
  });

  it('names the line and column of malformed YAML', () => {
    expect(problems('name: web\nstages: [\n  - a: b\n')).toStrictEqual([expect.stringMatching(/^: malformed YAML at line \d+, column \d+: /)]);
  });

  it('refuses duplicate stage and action names', () => {
    expect(
      problems(`
name: web
stages:${SOURCE_STAGE}
  - name: Build
    actions:
      - { name: Unit, kind: test, inputArtifacts: [Src] }
      - { name: Unit, kind: test, inputArtifacts: [Src], runOrder: 2 }
  - name: Build
    actions:
      - { name: Ok, kind: approval }
`),
    ).toStrictEqual([
      'stages[1].actions[1].name: duplicate action name "Unit" in stage Build (also actions[0])',
      'stages[2].name: duplicate stage name "Build" (also stages[1])',
    ]);
  });

  it('refuses an artifact consumed before it is produced, or never produced', () => {
    expect(
      problems(`
name: web
stages:${SOURCE_STAGE}
  - name: Build
    actions:
      - { name: Test, kind: test, inputArtifacts: [Bin] }
      - { name: Build, kind: build, inputArtifacts: [Src], outputArtifacts: [Bin] }
      - { name: Ship, kind: invoke, command: ./ship, inputArtifacts: [Nope], runOrder: 2 }
`),
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
      problems(`
name: web
stages:${SOURCE_STAGE}
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
    ).toStrictEqual([
      'stages[1].actions[0].strategy.steps[0]: expected exactly one of setWeight, pause, checkAlarms, got setWeight and pause',
      'stages[1].actions[0].strategy.steps[1]: expected exactly one of setWeight, pause, checkAlarms',
      'stages[1].actions[0].strategy.steps[2].setWeight: expected a weight from 0 to 100, got 150',
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
