/**
 * The commands action and source revision overrides as a user meets them on one machine: the CLI in a
 * fresh git repository, the compiled machine in the local engine, real shells.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, runCli } from './helpers/project';
import { until } from './helpers/until';

let project: Project | undefined;
afterEach(() => project?.remove());

const SOURCE = `  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/x, outputArtifacts: [Src], namespace: SourceVariables }]`;

describe('the commands action on one machine', () => {
  it('runs its commands in one shell session; its output variable reaches a later stage, its artifact holds only the files it names', async () => {
    project = createProject({
      'app/VERSION': '1.4.2\n',
      'stepline.yml': `name: cmds
stages:
${SOURCE}
  - name: Package
    actions:
      - name: Bundle
        kind: commands
        namespace: PackageVars
        inputArtifacts: [Src]
        outputArtifacts: [Bundle]
        outputFiles: ["dist/**/*"]
        outputVariables: [VERSION]
        environmentVariables: { COMMIT: "#{SourceVariables.CommitId}" }
        commands:
          - cd app
          - VERSION="$(cat VERSION)+$(printf %.7s "$COMMIT")"
          - mkdir -p ../dist/meta && echo "$VERSION" > ../dist/meta/version.txt
          - echo scratch > ../scratch.txt
  - name: Publish
    actions:
      - name: Announce
        kind: invoke
        inputArtifacts: [Bundle]
        command: 'test -f dist/meta/version.txt && test ! -e scratch.txt && test ! -e app && echo "#{PackageVars.VERSION}" > ANNOUNCED_FILE'
`,
    });
    const announced = join(project.dir, 'announced.txt');
    project.write('stepline.yml', readFileSync(join(project.dir, 'stepline.yml'), 'utf8').replace('ANNOUNCED_FILE', announced));
    const commit = project.commitAll('pipeline');

    const run = await runCli(['run', '--json'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { executionId: string; status: string };
    expect(result.status).toBe('Succeeded');
    // `cd` and the assignment of one command were seen by the next; the variable crossed two stages.
    expect(readFileSync(announced, 'utf8')).toBe(`1.4.2+${commit.slice(0, 7)}\n`);
    const manifest = JSON.parse(readFileSync(join(project.dir, '.stepline', 'artifacts', 'cmds', result.executionId, 'Bundle', 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { path: string }) => f.path)).toStrictEqual(['dist/meta/version.txt']);
    const detail = JSON.parse((await runCli(['get-execution', result.executionId, '--json'], { cwd: project.dir })).stdout);
    // Recorded as a build, with its phases and log, as CodeBuild records the managed compute's build.
    expect(detail.builds['Package.Bundle'].phases.map((p: { name: string; status: string }) => `${p.name} ${p.status}`)).toContain('BUILD SUCCEEDED');
    expect(readFileSync(detail.builds['Package.Bundle'].logLocation, 'utf8')).toContain('mkdir -p ../dist/meta');
  }, 90_000);

  it('fails the execution naming the stage, action and the command that failed', async () => {
    project = createProject({
      'stepline.yml': `name: cmdfail
stages:
${SOURCE}
  - name: Check
    actions: [{ name: Lint, kind: commands, inputArtifacts: [Src], commands: ["echo checking", "false", "touch never"] }]
`,
    });
    const run = await runCli(['run'], { cwd: project.dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/execution \S+ failed in stage Check, action Lint: Stepline.BuildFailed/);
    expect(run.stdout).toContain('BUILD: false exited with 1');
  }, 60_000);
});

describe('source revision overrides at start', () => {
  const pipeline = `name: pinned
stages:
${SOURCE}
  - name: Read
    actions:
      - { name: Marker, kind: commands, inputArtifacts: [Src], commands: ['cat marker.txt >> SEEN_FILE'] }
`;

  it('builds the commit named with --source-revision, with stepline run and with start-pipeline-execution', async () => {
    project = createProject({ 'marker.txt': 'first\n' });
    const seen = join(project.dir, 'seen.txt');
    project.write('stepline.yml', pipeline.replace('SEEN_FILE', seen));
    const first = project.commitAll('pipeline');
    project.write('marker.txt', 'second\n');
    const second = project.commitAll('second');

    const run = await runCli(['run', '--json', '--source-revision', `Checkout=COMMIT_ID:${first}`], { cwd: project.dir });
    expect(run.code, run.stderr).toBe(0);
    const pinned = JSON.parse(run.stdout) as { executionId: string };
    const detail = JSON.parse((await runCli(['get-execution', pinned.executionId, '--json'], { cwd: project.dir })).stdout);
    expect(detail).toMatchObject({ commitId: first });
    expect(readFileSync(seen, 'utf8')).toBe('first\n');

    // In the background, as CodePipeline's StartPipelineExecution: the same override reaches the run.
    const started = await runCli(['start-pipeline-execution', '--json', '--source-revision', `Checkout=COMMIT_ID:${first}`], { cwd: project.dir });
    expect(started.code, started.stderr).toBe(0);
    const { pipelineExecutionId } = JSON.parse(started.stdout) as { pipelineExecutionId: string };
    const done = await until(
      'the started execution to end',
      async () => {
        const d = JSON.parse((await runCli(['get-execution', pipelineExecutionId, '--json'], { cwd: project?.dir ?? '' })).stdout);
        return d.status === 'InProgress' ? undefined : d;
      },
      60_000,
    );
    expect(done).toMatchObject({ status: 'Succeeded', commitId: first });
    expect(readFileSync(seen, 'utf8')).toBe('first\nfirst\n');

    // Without an override, the branch head as before.
    const head = await runCli(['run', '--json'], { cwd: project.dir });
    const latest = JSON.parse((await runCli(['get-execution', JSON.parse(head.stdout).executionId, '--json'], { cwd: project.dir })).stdout);
    expect(latest).toMatchObject({ commitId: second });
    expect(readFileSync(seen, 'utf8')).toBe('first\nfirst\nsecond\n');
  }, 120_000);

  it('refuses a bad override before anything runs, saying what is wrong', async () => {
    project = createProject({ 'stepline.yml': pipeline });
    const refused = async (flag: string) => {
      const r = await runCli(['start-pipeline-execution', '--source-revision', flag], { cwd: project?.dir ?? '' });
      expect(r.code, r.stdout).toBe(1);
      return r.stderr.trim();
    };
    const sha = project.commit;
    expect(await refused(`Fetch=COMMIT_ID:${sha}`)).toContain(
      `sourceRevisions[0]: Fetch=COMMIT_ID: no source action is named Fetch in pipeline pinned (its source actions: Checkout)`,
    );
    expect(await refused(`Checkout:${sha}`)).toContain(`--source-revision Checkout:${sha}: expected <action>=<TYPE>:<value>`);
    // Nothing started.
    expect(existsSync(join(project.dir, '.stepline', 'runs'))).toBe(false);
  }, 60_000);

  it('refuses an S3 object key or version on this machine, where an S3 source reads the local repository, naming the action', async () => {
    project = createProject({
      'stepline.yml': `name: drops
stages:
  - name: Source
    actions: [{ name: Assets, kind: source, provider: S3, repository: drops/app/build.zip, allowOverrideForS3ObjectKey: true, namespace: AssetsVars, outputArtifacts: [Src] }]
  - name: Read
    actions: [{ name: List, kind: commands, inputArtifacts: [Src], environmentVariables: { V: "#{AssetsVars.VersionId}" }, commands: [ls] }]
`,
    });
    const run = await runCli(
      ['run', '--source-revision', 'Assets=S3_OBJECT_VERSION_ID:3HL4kqtJlcpXroDTDmJ', '--source-revision', 'Assets=S3_OBJECT_KEY:app/hotfix.zip'],
      { cwd: project.dir },
    );
    expect(run.code, run.stdout).toBe(1);
    for (const [i, type] of ['S3_OBJECT_VERSION_ID', 'S3_OBJECT_KEY'].entries())
      expect(run.stderr).toContain(
        `sourceRevisions[${i}]: Assets=${type}: on this machine the S3 source Assets reads the local repository in place of s3://drops/app/build.zip, so no object key or version can be chosen: start it on AWS (--target aws)`,
      );
    // Nothing was recorded as run.
    expect(JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout)).toStrictEqual([]);
    // The same pipeline runs without them, its S3 source read from the local repository (no object: an empty VersionId).
    const plain = await runCli(['run'], { cwd: project.dir });
    expect(plain.code, plain.stderr).toBe(0);
  }, 60_000);
});
