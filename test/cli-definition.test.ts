/** The definition verbs as a new user runs them: validate, compile, graph, import-codepipeline. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CORPUS_DIR } from './helpers/corpus';
import { REPO_ROOT, runCli } from './helpers/project';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stepline-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `name: web
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/web, outputArtifacts: [Src] }]
  - name: Build
    actions:
      - { name: Compile, kind: build, inputArtifacts: [Src] }
      - { name: Lint, kind: test, inputArtifacts: [Src] }
`;

describe('stepline definition verbs', () => {
  it('validate: exit 0 for a good file; 1 with one line per problem, and no stack trace, for bad ones', async () => {
    writeFileSync(join(dir, 'stepline.yml'), GOOD);
    expect(await runCli(['validate'], { cwd: dir })).toMatchObject({ code: 0, stdout: 'web: valid (2 stages, 3 actions)\n' });

    const cases: Array<[string, string]> = [
      ['name: web\nstages: [\n', 'malformed YAML at line'],
      [GOOD.replace('kind: test', 'kind: tset'), 'stages[1].actions[1].kind: expected kind to be one of'],
      [GOOD.replace('name: Lint', 'name: Compile'), 'stages[1].actions[1].name: duplicate action name "Compile"'],
      [
        GOOD.replace('inputArtifacts: [Src] }\n      - { name: Lint', 'inputArtifacts: [Bin] }\n      - { name: Lint'),
        'stages[1].actions[0].inputArtifacts[0]: artifact "Bin" is not produced by any action',
      ],
    ];
    for (const [text, message] of cases) {
      writeFileSync(join(dir, 'bad.yml'), text);
      const run = await runCli(['validate', 'bad.yml'], { cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`error: bad.yml: ${message}`);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await runCli(['validate', 'missing.yml'], { cwd: dir })).toMatchObject({ code: 1, stderr: 'error: missing.yml: no such file\n' });
  });

  it('compile --out writes the ASL and the state map; graph prints Mermaid', async () => {
    writeFileSync(join(dir, 'stepline.yml'), GOOD);
    const compiled = await runCli(['compile', '--out', 'out'], { cwd: dir });
    expect(compiled.code).toBe(0);
    const asl = JSON.parse(readFileSync(join(dir, 'out', 'web.asl.json'), 'utf8'));
    const states = JSON.parse(readFileSync(join(dir, 'out', 'web.states.json'), 'utf8'));
    expect(asl.States['Build · run order 1'].Type).toBe('Parallel');
    expect(states['Build · Lint']).toStrictEqual({ role: 'action', stage: 'Build', action: 'Lint', kind: 'test', final: true });

    const graph = await runCli(['graph'], { cwd: dir });
    expect(graph.stdout.split('\n')[0]).toBe('flowchart LR');
    expect(graph.stdout).toContain('a_1_0["Compile\n(build)"]');
    expect(graph.stdout).toContain('a_0_0 --> a_1_1');
  });

  it('import-codepipeline turns the seed pipeline.json into YAML that validates', async () => {
    const out = join(dir, 'imported.yml');
    const imported = await runCli(['import-codepipeline', join(CORPUS_DIR, 'seed', 'pipeline.json'), '--out', out], { cwd: dir });
    expect(imported.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toContain('name: web-app-pipeline');
    expect(await runCli(['validate', out, '--target', 'aws'], { cwd: dir })).toMatchObject({ code: 0 });
    // The corpus' ECR source imports (the template leaves other values open); a Jenkins build is refused, with the reason.
    const ecr = await runCli(['import-codepipeline', join(CORPUS_DIR, 'pipelines', 'Abynahisblue__aws-infra-iac__codepipeline.yaml')], { cwd: dir });
    expect(ecr.stderr).toContain('give it with --parameter');
    expect(ecr.stderr).not.toContain('provider ECR');
    const jenkins = join(dir, 'jenkins.json');
    const seed = JSON.parse(readFileSync(join(CORPUS_DIR, 'seed', 'pipeline.json'), 'utf8'));
    const stages = seed.pipeline?.stages ?? seed.stages;
    stages[1].actions[0].actionTypeId = { category: 'Build', owner: 'Custom', provider: 'Jenkins', version: '1' };
    writeFileSync(jenkins, JSON.stringify(seed));
    const refused = await runCli(['import-codepipeline', jenkins], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('provider Jenkins (category Build) is not supported: stepline builds with CodeBuild');
  });

  it('import-codepipeline takes --parameter, --region and --account, and writes one file per pipeline with --out dir', async () => {
    const pipeline = (id: string, name: string) => `
  ${id}:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: !Sub '${name}-\${AWS::Region}'
      Stages:
        - Name: Source
          Actions:
            - Name: Src
              ActionTypeId: { Category: Source, Owner: AWS, Provider: CodeCommit, Version: '1' }
              Configuration: { RepositoryName: !Ref Repo, BranchName: main }
              OutputArtifacts: [{ Name: Code }]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: { Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1' }
              Configuration: { ProjectName: !Sub '\${AWS::AccountId}-build' }
              InputArtifacts: [{ Name: Code }]`;
    const template = join(dir, 'pipelines.yml');
    writeFileSync(template, `Parameters:\n  Repo: { Type: String }\nResources:${pipeline('Main', 'web')}${pipeline('Nightly', 'nightly')}\n`);

    const missing = await runCli(['import-codepipeline', template], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('give it with --parameter Repo=<value>');

    const out = join(dir, 'imported');
    const args = ['import-codepipeline', template, '--parameter', 'Repo=web', '--region', 'eu-west-1', '--account', '111122223333', '--out', out];
    const run = await runCli(args, { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`wrote ${join(out, 'web-eu-west-1.yml')}\nwrote ${join(out, 'nightly-eu-west-1.yml')}\n`);
    const main = readFileSync(join(out, 'web-eu-west-1.yml'), 'utf8');
    expect(main).toContain('repository: web');
    expect(main).toContain('project: 111122223333-build');
    expect(await runCli(['validate', join(out, 'nightly-eu-west-1.yml')], { cwd: dir })).toMatchObject({ code: 0 });
    const bad = await runCli(['import-codepipeline', template, '--parameter', 'Repo'], { cwd: dir });
    expect(bad.stderr).toContain('--parameter: expected Name=Value, got "Repo"');
  });

  it('compile --target aws prints what an installation runs (its functions, bucket, projects), and refuses without knowing which', async () => {
    writeFileSync(join(dir, 'stepline.yml'), GOOD);
    const refused = await runCli(['compile', '--target', 'aws'], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('give --install <sst stage>, --region <region>, --account <id>');
    const run = await runCli(['compile', '--target', 'aws', '--install', 'team', '--region', 'eu-west-1', '--account', '123456789012'], { cwd: dir });
    expect(run.code).toBe(0);
    const asl = JSON.parse(run.stdout);
    const text = JSON.stringify(asl);
    expect(text).toContain('arn:aws:lambda:eu-west-1:123456789012:function:stepline-team-source');
    expect(text).toContain('"artifactBucket":"stepline-team-artifacts-123456789012-eu-west-1"');
    expect(asl.States['Build · run order 1'].Branches[0].States['Build · Compile'].Parameters.ProjectName).toBe('stepline-team-web-Build-Compile');
    expect(text).not.toContain('000000000000');
  });

  it('compile --target aws refuses a state machine over 1 MiB in UTF-8 bytes, saying to split the pipeline', async () => {
    writeFileSync(
      join(dir, 'stepline.yml'),
      GOOD.replace(
        '{ name: Lint, kind: test, inputArtifacts: [Src] }',
        `{ name: Lint, kind: test, inputArtifacts: [Src], environmentVariables: { NOTE: "${'€'.repeat(400_000)}" } }`,
      ),
    );
    const run = await runCli(['compile', '--target', 'aws', '--install', 'team', '--region', 'eu-west-1', '--account', '123456789012'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/stages: the state machine is \d+ bytes .*Step Functions accepts at most 1048576 bytes: split the pipeline into two pipelines/);
  });

  it('loads a TypeScript definition made with definePipeline()', async () => {
    const run = await runCli(['validate', join(REPO_ROOT, 'examples', 'typed', 'pipeline.ts')], { cwd: dir });
    expect(run).toMatchObject({ code: 0, stdout: 'typed-web-app: valid (3 stages, 4 actions)\n' });
  });

  it('answers --help with every verb, and names a missing argument', async () => {
    const help = await runCli(['--help'], { cwd: dir });
    for (const verb of [
      'validate',
      'compile',
      'graph',
      'import-codepipeline',
      'run',
      'build',
      'serve',
      'get-pipeline-state',
      'retry-stage-execution',
      'approve',
    ]) {
      expect(help.stdout).toContain(`  ${verb} `);
    }
    const missing = await runCli(['get-execution'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("missing required argument 'execution'");
  });
});
