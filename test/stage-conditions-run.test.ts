/**
 * Stage conditions through `stepline run`: the CLI in a fresh project, real git, real shells for the
 * command rules and actions, the pipeline state as `get-pipeline-state` shows it afterwards.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, pipelineYaml, runCli } from './helpers/project';
import { until } from './helpers/until';

let project: Project | undefined;
afterEach(() => project?.remove());

const definition = `variables: [{ name: ENV, default: staging }]\n${pipelineYaml(
  'gated',
  `  - name: Deploy
    beforeEntry:
      result: SKIP
      rules:
        - { name: OnlyProd, provider: VariableCheck, variable: "#{variables.ENV}", operator: EQ, value: prod }
        - { name: Always, provider: DeploymentWindow, cron: "* * ? * * *", timeZone: Europe/Paris }
        - { name: Healthy, provider: Commands, commands: ["test -f deploy-ok"] }
        - { name: Ready, provider: LambdaInvoke, functionName: ready-check, userParameters: go, command: "sh ready.sh" }
    actions: [{ name: Ship, kind: invoke, command: "echo shipped to $ENV > shipped.txt" }]
  - name: Announce
    actions: [{ name: Tell, kind: invoke, command: "echo told" }]
`,
)}`;

describe('stepline run with stage conditions', () => {
  it('skips a stage whose VariableCheck does not pass, and enters it when --var makes it pass (inside an open deployment window)', async () => {
    // The LambdaInvoke rule's command reads its user parameters from the environment, as a child process would.
    project = createProject({ 'stepline.yml': definition, 'deploy-ok': '', 'ready.sh': 'test "$USER_PARAMETERS" = go\n' });
    const skipped = await runCli(['run', 'stepline.yml'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(skipped.stderr).toBe('');
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/Deploy: beforeEntry not met: rule OnlyProd: EQ: "staging" not equal to "prod"/);
    expect(skipped.stdout).toMatch(/↷ stage Deploy skipped/);
    expect(skipped.stdout).toMatch(/✔ Announce · Tell succeeded/);
    expect(skipped.stdout).not.toMatch(/Deploy · Ship/);
    const state = JSON.parse((await runCli(['get-pipeline-state', '--json'], { cwd: project.dir })).stdout);
    expect(state.stages.map((s: { name: string; status: string }) => [s.name, s.status])).toStrictEqual([
      ['Source', 'Succeeded'],
      ['Deploy', 'Skipped'],
      ['Announce', 'Succeeded'],
    ]);

    const entered = await runCli(['run', 'stepline.yml', '--var', 'ENV=prod'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(entered.code).toBe(0);
    expect(entered.stdout).toMatch(/Deploy: beforeEntry passed \(4 rules passed\)/);
    expect(entered.stdout).toMatch(/✔ Deploy · Ship succeeded/);

    // Each evaluation of a rule, read back from the history: the later rules did not run where OnlyProd failed.
    type Listed = { pipelineExecutionId: string; ruleName: string; status: string; output: { executionResult: { externalExecutionSummary: string } } };
    const listed = JSON.parse((await runCli(['list-rule-executions', '--json'], { cwd: project.dir })).stdout) as Listed[];
    const [second, first] = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ executionId: string }>;
    const summary = (r: Listed) => [r.pipelineExecutionId, r.ruleName, r.status, r.output.executionResult.externalExecutionSummary];
    expect(listed.map(summary)).toStrictEqual([
      [second?.executionId, 'OnlyProd', 'Succeeded', 'EQ: "prod" equal to "prod"'],
      [second?.executionId, 'Always', 'Succeeded', 'inside the window * * ? * * * (Europe/Paris)'],
      [second?.executionId, 'Healthy', 'Succeeded', expect.stringMatching(/^commands exited with 0/)],
      [second?.executionId, 'Ready', 'Succeeded', expect.stringMatching(/^sh ready.sh exited with 0/)],
      [first?.executionId, 'OnlyProd', 'Failed', 'EQ: "staging" not equal to "prod"'],
    ]);
    const one = await runCli(['list-rule-executions', '--pipeline-execution-id', first?.executionId ?? ''], { cwd: project.dir });
    expect(one.stdout).toMatch(/^EXECUTION\s+STAGE\s+CONDITION\s+RULE\s+PROVIDER\s+STATUS\s+STARTED\s+UPDATED\s+SUMMARY$/m);
    expect(one.stdout.trim().split('\n')).toHaveLength(2);
    expect(one.stdout).toMatch(/Deploy\s+beforeEntry\s+OnlyProd\s+VariableCheck\s+Failed\s+.*EQ: "staging" not equal to "prod"$/m);
  }, 150_000);
});

/** A project whose stepline.yml is pipeline `name`: the source stage, then `stages`. */
const pipelineProject = (name: string, stages: string, files: Record<string, string> = {}): Project =>
  createProject({ 'stepline.yml': pipelineYaml(name, stages), ...files });

/** A Deploy stage whose entry waits on a window of one hour, twelve hours from now: closed for the whole test. */
function closedWindowProject(shipCommand: string): Project {
  const hour = (new Date().getUTCHours() + 12) % 24;
  return pipelineProject(
    'windowed',
    `  - name: Deploy
    beforeEntry:
      result: FAIL
      rules: [{ name: Night, provider: DeploymentWindow, cron: "* ${hour} ? * * *", timeZone: UTC }]
    actions: [{ name: Ship, kind: invoke, command: "${shipCommand}" }]
`,
  );
}

/** The execution whose Deploy stage waits on its entry condition now, as get-pipeline-state shows it. */
async function heldOnEntry(cwd: string): Promise<string | undefined> {
  const state = JSON.parse((await runCli(['get-pipeline-state', '--json'], { cwd })).stdout) as {
    executionId?: string;
    stages: Array<{ name: string; held?: { condition?: string } }>;
  };
  return state.stages.find((s) => s.name === 'Deploy')?.held?.condition === 'beforeEntry' ? state.executionId : undefined;
}

describe('override-stage-condition on one machine', () => {
  it('lets a stage waiting on a closed deployment window in from a second CLI process, and refuses what waits on nothing', async () => {
    project = closedWindowProject('echo shipped');
    const cwd = project.dir;
    const running = runCli(['run', 'stepline.yml', '--condition-poll', '1'], { cwd, env: { STEPLINE_APPROVER: 'runner' }, timeoutMs: 60_000 });
    const executionId = await until('the execution to wait on its entry condition', () => heldOnEntry(cwd));
    const override = (...args: string[]) => runCli(['override-stage-condition', '--pipeline-execution-id', executionId, ...args], { cwd });

    const source = await override('--stage', 'Source');
    expect(source.code).not.toBe(0);
    expect(source.stderr).toMatch(/cannot override the entry conditions of stage Source: the stage has no beforeEntry condition with rules/);
    const onSuccess = await override('--stage', 'Deploy', '--condition-type', 'ON_SUCCESS');
    expect(onSuccess.stderr).toMatch(/cannot override the success conditions of stage Deploy: the stage has no onSuccess condition with rules/);
    const onFailure = await override('--stage', 'Deploy', '--condition-type', 'ON_FAILURE');
    expect(onFailure.code).not.toBe(0);
    expect(onFailure.stderr).toMatch(/--condition-type.*ON_FAILURE.*BEFORE_ENTRY, ON_SUCCESS|Allowed choices are BEFORE_ENTRY, ON_SUCCESS/);

    const done = await override('--stage', 'Deploy', '--by', 'alice@example.com');
    expect(done.stderr).toBe('');
    expect(done.stdout).toMatch(/BEFORE_ENTRY condition of stage Deploy overridden by alice@example.com/);
    const run = await running;
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout.match(/Deploy: beforeEntry waits: outside the window/g)).toHaveLength(1);
    expect(run.stdout).toMatch(/Deploy: beforeEntry passed \(overridden by alice@example.com at \S+\)/);
    expect(run.stdout).toMatch(/✔ Deploy · Ship succeeded/);

    const [rule] = JSON.parse((await runCli(['list-rule-executions', '--json'], { cwd })).stdout) as Array<Record<string, unknown>>;
    expect(rule).toMatchObject({
      pipelineExecutionId: executionId,
      stageName: 'Deploy',
      ruleName: 'Night',
      status: 'Succeeded',
      updatedBy: 'alice@example.com',
    });
    const late = await override('--stage', 'Deploy');
    expect(late.stderr).toMatch(
      new RegExp(`cannot override the entry conditions of stage Deploy: execution ${executionId} is not in progress \\(Succeeded\\)`),
    );
  }, 90_000);
});

describe('an override lasts one evaluation of the condition', () => {
  it('a stage retried after an overridden entry condition checks its rules again, and a second override lets the new evaluation through', async () => {
    project = closedWindowProject('test -f ship-ok');
    const cwd = project.dir;
    const first = runCli(['run', 'stepline.yml', '--condition-poll', '1'], { cwd, timeoutMs: 60_000 });
    const executionId = await until('the execution to wait on its entry condition', () => heldOnEntry(cwd));
    const override = (by: string) => runCli(['override-stage-condition', '--pipeline-execution-id', executionId, '--stage', 'Deploy', '--by', by], { cwd });
    expect((await override('alice@example.com')).stderr).toBe('');
    const failed = await first;
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/Deploy: beforeEntry passed \(overridden by alice@example.com/);

    // The retry enters the stage again: the window is still closed, and alice's override was for the first evaluation.
    writeFileSync(join(cwd, 'ship-ok'), '');
    const retried = runCli(['retry-stage-execution', executionId, '--condition-poll', '1'], { cwd, timeoutMs: 60_000 });
    await until('the retried stage to wait on its entry condition again', () => heldOnEntry(cwd), 30_000);
    const second = await override('bob@example.com');
    expect(second.stderr).toBe('');
    const retry = await retried;
    expect(retry.code, retry.stdout).toBe(0);
    expect(retry.stdout).toMatch(/Deploy: beforeEntry waits: outside the window/);
    expect(retry.stdout).toMatch(/Deploy: beforeEntry passed \(overridden by bob@example.com/);

    type Listed = { ruleExecutionId: string; status: string; updatedBy?: string };
    const listed = JSON.parse((await runCli(['list-rule-executions', '--json'], { cwd })).stdout) as Listed[];
    expect(listed.map((r) => [r.ruleExecutionId, r.status, r.updatedBy]).sort()).toStrictEqual([
      [`${executionId}/Deploy/beforeEntry/Night/1`, 'Succeeded', 'alice@example.com'],
      [`${executionId}/Deploy/beforeEntry/Night/2`, 'Succeeded', 'bob@example.com'],
    ]);
  }, 120_000);
});

describe('a Commands rule on one machine', () => {
  it('runs in a copy of the stage’s input artifact, as its CodeBuild build does on AWS', async () => {
    project = pipelineProject(
      'built',
      `  - name: Build
    actions: [{ name: Make, kind: commands, commands: ["mkdir -p dist", "echo ok > dist/app.txt"], inputArtifacts: [Src], outputArtifacts: [Built] }]
  - name: Deploy
    beforeEntry:
      result: FAIL
      rules: [{ name: Built, provider: Commands, commands: ["test -f dist/app.txt", 'test "$CODEBUILD_SRC_DIR" = "$PWD"', "touch rule-was-here"] }]
    actions: [{ name: Ship, kind: invoke, command: "echo shipped", inputArtifacts: [Built] }]
`,
    );
    const run = await runCli(['run', 'stepline.yml'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/Deploy: beforeEntry passed/);
    // It ran in a working copy: neither the repository nor the sealed artifact changed.
    expect(existsSync(join(project.dir, 'rule-was-here'))).toBe(false);
  }, 60_000);
});

describe('stepline run with onFailure RETRY', () => {
  it('retries a failed commands action once by itself; the attempt shows in get-execution', async () => {
    project = createProject({});
    // Outside the project: each attempt of a commands action runs in a fresh copy of its input artifact.
    const seen = join(project.dir, '..', `${basename(project.dir)}-flaky-seen`);
    project.write(
      'stepline.yml',
      pipelineYaml(
        'flaky',
        `  - name: Test
    onFailure: { result: RETRY, retryMode: FAILED_ACTIONS }
    actions:
      - { name: Lint, kind: invoke, command: "echo lint" }
      - name: Flaky
        kind: commands
        runOrder: 2
        inputArtifacts: [Src]
        commands:
          - 'if [ -f "${seen}" ]; then echo passed; else touch "${seen}"; echo first try fails; exit 1; fi'
`,
      ),
    );
    project.commitAll('pipeline');
    try {
      const run = await runCli(['run', 'stepline.yml'], { cwd: project.dir, timeoutMs: 60_000 });
      expect(run.code, run.stdout).toBe(0);
      expect(run.stdout).toMatch(/✖ Test · Flaky failed .*first try fails/);
      expect(run.stdout).toMatch(/↻ stage Test: retrying automatically/);
      expect(run.stdout).toMatch(/✔ Test · Flaky succeeded/);
      expect(run.stdout.match(/Test · Lint \(invoke\) started/g)).toHaveLength(1);
      const [execution] = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ executionId: string }>;
      const detail = await runCli(['get-execution', execution?.executionId ?? ''], { cwd: project.dir });
      expect(detail.stdout).toMatch(/^Test\s+Succeeded\s+retried automatically at /m);
    } finally {
      rmSync(seen, { force: true });
    }
  }, 60_000);
});

describe('stepline run with ROLLBACK', () => {
  it('rolls a failed stage back to the last good execution’s artifacts, automatically and by hand', async () => {
    project = pipelineProject(
      'site',
      `  - name: Deploy
    onFailure: { result: ROLLBACK }
    actions: [{ name: Publish, kind: invoke, inputArtifacts: [Src], command: "test ! -f broken && cp version.txt \\"$LIVE\\"" }]
  - name: Announce
    actions: [{ name: Tell, kind: invoke, command: "echo told" }]
`,
      { 'version.txt': 'v1\n' },
    );
    const live = join(project.dir, 'live.txt');
    const env = { LIVE: live };
    const good = await runCli(['run', 'stepline.yml'], { cwd: project.dir, env, timeoutMs: 60_000 });
    expect(good.code).toBe(0);
    expect(readFileSync(live, 'utf8')).toBe('v1\n');

    project.write('version.txt', 'v2\n');
    project.write('broken', '');
    project.commitAll('v2, broken');
    const bad = await runCli(['run', 'stepline.yml'], { cwd: project.dir, env, timeoutMs: 60_000 });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/rolling back stage Deploy to execution \S+ in execution \S+/);
    expect(bad.stdout).toMatch(/rolled back by execution \S+ to the state of execution \S+/);
    expect(bad.stdout).not.toMatch(/Announce · Tell/);
    // The rollback ran v1's artifact: what is live is v1 again (written anew).
    expect(readFileSync(live, 'utf8')).toBe('v1\n');
    const executions = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ status: string; trigger: string }>;
    expect(executions.map((e) => e.status)).toStrictEqual(['Succeeded', 'Failed', 'Succeeded']);

    const byHand = await runCli(['rollback-stage', 'stepline.yml', '--stage', 'Deploy'], { cwd: project.dir, env: { LIVE: join(project.dir, 'again.txt') } });
    expect(byHand.code).toBe(0);
    expect(readFileSync(join(project.dir, 'again.txt'), 'utf8')).toBe('v1\n');
    const source = await runCli(['rollback-stage', 'stepline.yml', '--stage', 'Source'], { cwd: project.dir });
    expect(source.code).not.toBe(0);
    expect(source.stderr).toMatch(/stage Source is the source stage: there is nothing to roll back to/);
  }, 120_000);
});
