/**
 * `stepline run` as a user meets it: the CLI in a fresh project, real git, real shell builds, real
 * processes. Slow-ish (each run starts Node and the engine), so few and thorough.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@stepline/local';
import { afterEach, describe, expect, it } from 'vitest';
import { processesWithEnvironment, processState } from './helpers/processes';
import { createProject, type Project, pipelineYaml, REPO_ROOT, runCli } from './helpers/project';
import { until } from './helpers/until';

let project: Project | undefined;
afterEach(() => project?.remove());

/** Every file under a directory, as one string: to look for a secret anywhere it could be written. */
function everything(dir: string): string {
  let all = '';
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) all += readFileSync(join(entry.parentPath, entry.name)).toString('latin1');
  }
  return all;
}

describe('stepline run', () => {
  it('runs the example pipeline end to end: source, parallel build and tests, approval, canary', async () => {
    project = createProject({});
    cpSync(join(REPO_ROOT, 'examples', 'web-app'), join(project.dir, 'examples', 'web-app'), {
      recursive: true,
      filter: (src) => !src.includes('node_modules'),
    });
    // The example's proxy port may be taken on this machine: use a free one.
    const definition = join(project.dir, 'examples', 'web-app', 'stepline.yml');
    writeFileSync(definition, readFileSync(definition, 'utf8').replace(/port: \d+/, `port: ${await freePort()}`));
    const commit = project.commitAll('example');

    const run = await runCli(['run', 'examples/web-app/stepline.yml', '--approve', 'auto'], { cwd: project.dir, timeoutMs: 90_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const line of [
      /✔ Source · Checkout succeeded in/,
      /✔ Build · Build succeeded in/,
      /✔ Build · UnitTests succeeded in/,
      /✔ Approve · Release succeeded in/,
      /✔ Deploy · Canary succeeded in/,
    ]) {
      expect(run.stdout).toMatch(line);
    }
    expect(run.stdout).toMatch(/^Deploy\s+Canary\s+deploy\s+Succeeded\s+\S+$/m);
    expect(run.stdout).toMatch(/execution \S+ succeeded/);

    const listed = await runCli(['list-executions', '--json'], { cwd: project.dir });
    const [execution] = JSON.parse(listed.stdout) as Array<{ executionId: string; status: string; commitId: string }>;
    expect(execution).toMatchObject({ status: 'Succeeded', commitId: commit });
    const detail = JSON.parse((await runCli(['get-execution', execution?.executionId ?? '', '--json'], { cwd: project.dir })).stdout);
    expect(detail.builds['Build.UnitTests'].reports).toStrictEqual([{ name: 'unit-tests', passed: 3, failed: 0, skipped: 0 }]);
    expect(detail.approvals).toStrictEqual([expect.objectContaining({ status: 'Approved', decidedBy: 'stepline (--approve auto)' })]);
    expect(detail.artifacts.map((a: { name: string }) => a.name)).toStrictEqual(['Source', 'App']);
    const app = JSON.parse(readFileSync(join(project.dir, '.stepline', 'artifacts', 'web-app', execution?.executionId ?? '', 'App', 'manifest.json'), 'utf8'));
    expect(app.files.map((f: { path: string }) => f.path).sort()).toStrictEqual(['package.json', 'src/app.js', 'src/server.js', 'src/version.json']);
  }, 120_000);

  it('fails naming the stage and action, with the last lines of the build log, and exit code 1', async () => {
    project = createProject({
      'stepline.yml': pipelineYaml(
        'failing',
        `  - name: Build
    actions: [{ name: Compile, kind: build, inputArtifacts: [Src] }]
  - name: Never
    actions: [{ name: Reached, kind: invoke, command: "touch reached" }]
`,
      ),
      'buildspec.yml': 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo compiling the thing\n      - exit 3\n',
    });
    const run = await runCli(['run'], { cwd: project.dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/execution \S+ failed in stage Build, action Compile: Stepline.BuildFailed/);
    expect(run.stdout).toContain('BUILD: exit 3 exited with 3');
    expect(run.stdout).toMatch(/\| compiling the thing/);
    expect(existsSync(join(project.dir, 'reached'))).toBe(false);
  }, 60_000);

  it('never shows a secret from env.secrets-manager: not on the terminal, in logs, or in the history', async () => {
    const secret = 'hunter2-s3cr3t-value';
    project = createProject({
      'stepline.yml': pipelineYaml(
        'secrets',
        `  - name: Build
    actions: [{ name: Use, kind: build, inputArtifacts: [Src] }]
`,
      ),
      'buildspec.yml': `version: 0.2
env:
  secrets-manager:
    DB_PASSWORD: prod/db:password
  exported-variables: [DB_PASSWORD]
phases:
  build:
    commands:
      - echo "connecting with $DB_PASSWORD"
      - printf '%s' "$DB_PASSWORD" | wc -c
`,
    });
    const run = await runCli(['run', '--verbose'], { cwd: project.dir, env: { DB_PASSWORD: secret } });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('connecting with ***');
    expect(run.stdout).toContain(String(secret.length));
    expect(run.stdout + run.stderr).not.toContain(secret);
    expect(everything(join(project.dir, '.stepline'))).not.toContain(secret);
  }, 60_000);

  it('stops on Ctrl-C: no process of the build is left, and the execution is STOPPED', async () => {
    project = createProject({
      'stepline.yml': pipelineYaml(
        'slow',
        `  - name: Build
    actions: [{ name: Long, kind: build, inputArtifacts: [Src] }]
`,
      ),
      // Every process of the build carries STOP_TEST (pids as numbers would be the build's PID namespace's own).
      'buildspec.yml':
        'version: 0.2\nenv:\n  variables:\n    STOP_TEST: ctrl-c\nphases:\n  build:\n    commands:\n      - sh -c \'sleep 60 & touch "$STEPLINE_PIDS/child.started"; wait\' & sleep 60\n',
    });
    const pids = join(project.dir, 'pids');
    mkdirSync(pids);
    let running: number[] = [];
    let sent = false;
    const run = await runCli(['run'], {
      cwd: project.dir,
      env: { STEPLINE_PIDS: pids },
      onStdout: (out, child) => {
        if (!sent && out.includes('Build · Long (build) started')) {
          sent = true;
          void until('the build to start its processes', () => existsSync(join(pids, 'child.started')) || undefined).then(() => {
            running = processesWithEnvironment('STOP_TEST', 'ctrl-c');
            child.kill('SIGINT');
          });
        }
      },
    });
    expect(run.code).toBe(130);
    expect(run.stdout).toMatch(/execution \S+ stopped/);
    // By the time the run has said "stopped", nothing of the build may run; an orphan the kernel
    // keeps as a zombie until PID 1 reaps it has ended (processState says which it was).
    // The build's shell, the background shell and the two sleeps.
    expect(running.length).toBeGreaterThanOrEqual(4);
    const left = processesWithEnvironment('STOP_TEST', 'ctrl-c').map((pid) => `${pid} (${processState(pid).why})`);
    expect(left, 'processes of the build still running').toStrictEqual([]);
    const [execution] = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ status: string }>;
    expect(execution?.status).toBe('Stopped');
  }, 60_000);

  it('takes an approval decided from another terminal with approve --stage, and refuses a bad start', async () => {
    project = createProject({
      'stepline.yml': `
name: gated
variables: [{ name: ENV, default: dev }]
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/x, outputArtifacts: [Src] }]
  - name: Gate
    actions: [{ name: Ok, kind: approval }]
`,
    });
    const cwd = project.dir;
    let decided: Promise<unknown> | undefined;
    const run = await runCli(['run', '--approve', 'link'], {
      cwd,
      onStdout: (out) => {
        const id = /stepline approve (\S+) --stage Gate/.exec(out)?.[1];
        if (id && !decided) decided = runCli(['approve', id, '--stage', 'Gate', '--comment', 'ship it', '--approver', 'ana@example.com'], { cwd });
      },
    });
    expect(await decided).toMatchObject({ code: 0, stdout: 'approved by ana@example.com\n' });
    expect(run.code).toBe(0);
    const [execution] = JSON.parse((await runCli(['list-executions', '--json'], { cwd })).stdout) as Array<{ executionId: string }>;
    const detail = JSON.parse((await runCli(['get-execution', execution?.executionId ?? '', '--json'], { cwd })).stdout);
    expect(detail.approvals).toStrictEqual([expect.objectContaining({ stage: 'Gate', status: 'Approved', decidedBy: 'ana@example.com', comment: 'ship it' })]);
    expect(await runCli(['approve', execution?.executionId ?? ''], { cwd })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('is Succeeded: nothing waits for a decision'),
    });

    const refused = await runCli(['start-pipeline-execution', '--var', 'NOPE=1'], { cwd });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('variables.NOPE: not a variable of pipeline gated (it declares ENV)');
  }, 60_000);

  it('says what is wrong with a definition in one line per problem and exits 1, without a stack trace', async () => {
    project = createProject({ 'stepline.yml': 'name: bad\nstages:\n  - name: Source\n    actions: [{ name: A, kind: sauce }]\n' });
    const run = await runCli(['run'], { cwd: project.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'error: stepline.yml: stages[0].actions[0].kind: expected kind to be one of source, build, test, approval, deploy, codedeploy, invoke, s3deploy, cloudformation, stepfunctions, commands, got "sauce"\n',
    );
  });
});
