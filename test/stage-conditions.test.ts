/**
 * Stage conditions and automatic retry, compiled and executed by the local engine with every Task
 * bound to a stub; a condition's check is answered by core's real evaluation of the rules the machine
 * resolved, with the alarm, function and command effects stubbed.
 */
import {
  type ConditionCheckPayload,
  compilePipeline,
  conditionCheckOutput,
  type HistoryEvent,
  parsePipelineText,
  rollbackInput,
  ruleExecutionsFrom,
  validateStateMachine,
} from '@stepline/core';
import { execute } from '@stepline/local';
import { describe, expect, it } from 'vitest';
import { refusalOf } from '../packages/core/src/testing';
import { conditionStub, MANUAL_START, noWaits, type Override, runStubbed, type StubCall, stubHandlers } from './helpers/stub-handlers';

const SOURCE = `
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/web, outputArtifacts: [Src], namespace: SourceVariables }]`;

const compile = (stages: string, head = 'name: web\nvariables: [{ name: ENV, default: staging }]') =>
  compilePipeline(parsePipelineText(`${head}\nstages:${SOURCE}\n${stages}`), { target: 'aws' });

async function run(compiled: ReturnType<typeof compilePipeline>, overrides: Record<string, Override> = {}, variables: Record<string, string> = {}) {
  const { outcome, calls, events } = await runStubbed(compiled, overrides, { ...MANUAL_START, pipeline: 'web', variables });
  const entered = events.filter((e) => e.type === 'StateEntered').map((e) => (e as { state: { name: string } }).state.name);
  const count = (state: string) => calls.filter((c) => c.state === state).length;
  return { outcome, calls, entered, count };
}

const failing = (message: string) => () => {
  throw Object.assign(new Error(message), { name: 'Stepline.BuildFailed' });
};
/** Fails the first `times` calls, then answers as the default stub. */
const flaky = (times: number, answer: Override) => {
  let n = 0;
  return (input: unknown) => (n++ < times ? failing(`flaky failure ${n}`)() : answer(input));
};
const built = () => ({ Build: { Id: 'b:1', BuildNumber: 1, BuildStatus: 'SUCCEEDED', ExportedEnvironmentVariables: [] } });

/** A Deploy stage that enters only on weekdays, 9:00 to 18:00 in Paris. */
const WINDOWED = `
  - name: Deploy
    beforeEntry:
      result: FAIL
      rules: [{ name: Weekdays, provider: DeploymentWindow, cron: "* 9-17 ? * MON-FRI *", timeZone: Europe/Paris }]
    actions: [{ name: Ship, kind: invoke, function: ship }]
`;

describe('beforeEntry', () => {
  const compiled = compile(`
  - name: Deploy
    beforeEntry:
      result: SKIP
      rules: [{ name: OnlyProd, provider: VariableCheck, variable: "#{variables.ENV}", operator: EQ, value: prod }]
    actions: [{ name: Ship, kind: invoke, function: ship }]
  - name: Announce
    beforeEntry:
      result: FAIL
      rules: [{ name: MainOnly, provider: VariableCheck, variable: "#{SourceVariables.BranchName}", operator: MATCHES, value: "main|release/.*" }]
    actions: [{ name: Tell, kind: invoke, function: tell }]
`);

  it('compiles to a machine asl-validator accepts', () => {
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
  });

  it('SKIP passes over the stage when a rule does not pass, and the next stage runs', async () => {
    const { outcome, count, entered } = await run(compiled);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(count('Deploy · Ship')).toBe(0);
    expect(entered).toContain('Deploy · skip stage');
    expect(count('Announce · Tell')).toBe(1);
  });

  it('enters the stage when every rule passes (the variable resolved by the machine)', async () => {
    const { outcome, count, calls } = await run(compiled, {}, { ENV: 'prod' });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(count('Deploy · Ship')).toBe(1);
    const check = calls.find((c) => c.state === 'Deploy · check entry conditions')?.input as { Payload: { rules: Array<{ variable: string }> } };
    expect(check.Payload.rules[0]?.variable).toBe('prod');
  });

  it('FAIL fails the execution naming the stage and the rule', async () => {
    const source = stubHandlers(compiled)['Source · Checkout'];
    const onBranch = (branch: string) => async (i: unknown) => {
      const answer = (await source?.(i)) as { Payload: { variables: Record<string, string> } };
      answer.Payload.variables.BranchName = branch;
      return answer;
    };
    const { outcome, count } = await run(compiled, { 'Source · Checkout': onBranch('feature/x') });
    expect(outcome).toStrictEqual({
      status: 'FAILED',
      error: 'Stepline.ConditionNotMet',
      cause: 'Stage Announce: entry conditions not met: rule MainOnly: MATCHES: "feature/x" not matching "main|release/.*"',
    });
    expect(count('Announce · Tell')).toBe(0);
    expect((await run(compiled, { 'Source · Checkout': onBranch('release/2') })).outcome.status).toBe('SUCCEEDED');
  });

  it('waits for a closed deployment window and enters when it opens', async () => {
    const windowed = compile(WINDOWED);
    // Saturday noon in Paris, then Monday 09:00 in Paris.
    const clock = [new Date('2026-12-05T11:00:00Z'), new Date('2026-12-07T08:00:00Z')];
    const stub = conditionStub({}, () => clock.shift() ?? new Date('2026-12-07T08:00:00Z'));
    const { outcome, calls, entered } = await run(windowed, { 'Deploy · check entry conditions': stub, 'Deploy · check entry conditions again': stub });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(entered).toContain('Deploy · wait for entry conditions');
    expect(calls.filter((c) => c.state.startsWith('Deploy · check entry conditions'))).toHaveLength(2);
    expect(calls.some((c) => c.state === 'Deploy · Ship')).toBe(true);
  });

  it('lets a waiting entry condition through at the check after an override, and its rule executions say who did', async () => {
    const pipeline = parsePipelineText(`name: web\nstages:${SOURCE}\n${WINDOWED}`);
    const windowed = compilePipeline(pipeline, { target: 'aws' });
    // Always Saturday noon in Paris: only the override, seen at the third check, lets the stage in.
    let checks = 0;
    const stub = conditionStub(
      {},
      () => new Date('2026-12-05T11:00:00Z'),
      () => (++checks >= 3 ? { by: 'alice@example.com', at: '2026-12-05T11:10:00.000Z' } : undefined),
    );
    const { outcome, events, calls } = await runStubbed(
      windowed,
      { 'Deploy · check entry conditions': stub, 'Deploy · check entry conditions again': stub },
      { ...MANUAL_START, pipeline: 'web' },
    );
    expect(outcome.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c.state.startsWith('Deploy · check entry conditions'))).toHaveLength(3);
    expect(calls.some((c) => c.state === 'Deploy · Ship')).toBe(true);
    // Each check's answer, as the runtimes keep it in their history: one evaluation of the rule, overridden.
    const history = events.flatMap((e): HistoryEvent[] => {
      if (e.type !== 'StateEntered' && e.type !== 'StateExited') return [];
      const check = e.type === 'StateExited' ? conditionCheckOutput(e.state.output) : undefined;
      return [
        { type: e.type === 'StateEntered' ? 'entered' : 'exited', state: e.state.name, at: new Date(e.timestamp).toISOString(), ...(check && { check }) },
      ];
    });
    expect(ruleExecutionsFrom({ pipeline, execution: { executionId: 'exec-1', status: 'Succeeded', events: history } })).toMatchObject([
      {
        ruleExecutionId: 'exec-1/Deploy/beforeEntry/Weekdays/1',
        status: 'Succeeded',
        updatedBy: 'alice@example.com',
        output: { executionResult: { externalExecutionSummary: 'overridden by alice@example.com at 2026-12-05T11:10:00.000Z' } },
      },
    ]);
  });
});

describe('onSuccess', () => {
  const compiled = compile(`
  - name: Deploy
    onSuccess:
      result: FAIL
      rules: [{ name: Errors, provider: CloudWatchAlarm, alarmName: web-5xx, waitTimeMinutes: 5 }]
    actions: [{ name: Ship, kind: invoke, function: ship }]
`);

  it('fails after the stage succeeded when the alarm fires while it is watched', async () => {
    const states = ['OK', 'OK', 'ALARM'];
    const stub = conditionStub({ alarmState: async () => states.shift() ?? 'ALARM' });
    const { outcome, count } = await run(compiled, { 'Deploy · check success conditions': stub, 'Deploy · check success conditions again': stub });
    expect(count('Deploy · Ship')).toBe(1);
    expect(outcome).toStrictEqual({
      status: 'FAILED',
      error: 'Stepline.ConditionNotMet',
      cause: 'Stage Deploy: success conditions not met: rule Errors: alarm web-5xx is ALARM',
    });
  });

  it('succeeds when the alarm stays OK for the whole WaitTime', async () => {
    // Each check is a minute later than the last.
    let checks = 0;
    const stub = conditionStub({}, () => new Date(Date.parse('2026-12-05T10:00:00Z') + ++checks * 60_000));
    const { outcome, count } = await run(compiled, { 'Deploy · check success conditions': stub, 'Deploy · check success conditions again': stub });
    expect(outcome.status).toBe('SUCCEEDED');
    // Watched from the first check for five minutes, once a minute.
    expect(count('Deploy · check success conditions') + count('Deploy · check success conditions again')).toBe(6);
  });
});

describe('onFailure RETRY', () => {
  const stage = (mode: string) => `
  - name: Build
    onFailure: { result: RETRY, retryMode: ${mode} }
    actions:
      - { name: Compile, kind: build, inputArtifacts: [Src], outputArtifacts: [Bin] }
      - { name: Package, kind: build, inputArtifacts: [Bin], runOrder: 2 }
  - name: Release
    actions: [{ name: Tell, kind: invoke, function: tell }]`;

  it('FAILED_ACTIONS runs again only the action that failed, once, and the execution goes on', async () => {
    const compiled = compile(stage('FAILED_ACTIONS'));
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    const { outcome, count, entered } = await run(compiled, { 'Build · Package': flaky(1, built) });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(count('Build · Compile')).toBe(1);
    expect(count('Build · Package')).toBe(2);
    expect(entered.filter((s) => s === 'Build · retry stage')).toHaveLength(1);
    expect(count('Release · Tell')).toBe(1);
  });

  it('FAILED_ACTIONS keeps what the other actions of a parallel group did: only the failed one runs again', async () => {
    const compiled = compile(
      `
  - name: Build
    onFailure: { result: RETRY }
    actions:
      - { name: Compile, kind: build, inputArtifacts: [Src], namespace: Out }
      - { name: Lint, kind: test, inputArtifacts: [Src] }
  - name: Release
    actions: [{ name: Tell, kind: invoke, function: tell, userParameters: "#{Out.IMAGE}" }]`.replace(
        'namespace: Out',
        'namespace: Out, outputVariables: [IMAGE]',
      ),
    );
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    const image = () => ({ Build: { Id: 'b:1', BuildNumber: 1, BuildStatus: 'SUCCEEDED', ExportedEnvironmentVariables: [{ Name: 'IMAGE', Value: 'web:1' }] } });
    const { outcome, count, calls } = await run(compiled, { 'Build · Compile': image, 'Build · Lint': flaky(1, built) });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(count('Build · Compile')).toBe(1);
    expect(count('Build · Lint')).toBe(2);
    // The kept result of Compile still feeds the later stage.
    const tell = calls.find((c) => c.state === 'Release · Tell')?.input as { Payload: { userParameters: string } } | undefined;
    expect(tell?.Payload.userParameters).toBe('web:1');
  });

  it('FAILED_ACTIONS in a parallel group fails with the branch’s own failure when the retry fails too', async () => {
    const compiled = compile(`
  - name: Build
    onFailure: { result: RETRY }
    actions:
      - { name: Compile, kind: build, inputArtifacts: [Src] }
      - { name: Lint, kind: test, inputArtifacts: [Src] }`);
    const { outcome, count } = await run(compiled, { 'Build · Lint': flaky(5, built) });
    expect(outcome).toStrictEqual({ status: 'FAILED', error: 'Stepline.BuildFailed', cause: 'Stage Build, action Lint failed: flaky failure 2' });
    expect(count('Build · Compile')).toBe(1);
  });

  it('ALL_ACTIONS runs the whole stage again', async () => {
    const { outcome, count } = await run(compile(stage('ALL_ACTIONS')), { 'Build · Package': flaky(1, built) });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(count('Build · Compile')).toBe(2);
    expect(count('Build · Package')).toBe(2);
  });

  it('retries once only (CodePipeline allows one automatic attempt), then fails with the second failure', async () => {
    const { outcome, count } = await run(compile(stage('FAILED_ACTIONS')), { 'Build · Package': flaky(5, built) });
    expect(count('Build · Package')).toBe(2);
    expect(outcome).toStrictEqual({ status: 'FAILED', error: 'Stepline.BuildFailed', cause: 'Stage Build, action Package failed: flaky failure 2' });
    expect(count('Release · Tell')).toBe(0);
  });

  it('a stage without onFailure fails at the first failure', async () => {
    const compiled = compile(`
  - name: Build
    actions: [{ name: Compile, kind: build, inputArtifacts: [Src] }]`);
    const { outcome, count } = await run(compiled, { 'Build · Compile': flaky(1, built) });
    expect(outcome.status).toBe('FAILED');
    expect(count('Build · Compile')).toBe(1);
  });
});

describe('bad conditions are refused with their path', () => {
  const problems = (stages: string, head?: string) => refusalOf(() => compile(stages, head));
  const stageWith = (condition: string) => `
  - name: Deploy
    ${condition}
    actions: [{ name: Ship, kind: invoke, function: ship }]`;

  it('an unknown rule provider', () => {
    expect(problems(stageWith('beforeEntry: { result: FAIL, rules: [{ name: R, provider: Sundial }] }'))).toStrictEqual([
      'stages[1].beforeEntry.rules[0].provider: expected provider to be one of CloudWatchAlarm, DeploymentWindow, VariableCheck, LambdaInvoke, Commands, got "Sundial"',
    ]);
  });

  it('a cron that does not parse', () => {
    const [problem] = problems(stageWith('beforeEntry: { result: FAIL, rules: [{ name: R, provider: DeploymentWindow, cron: "* 25 ? * * *" }] }'));
    expect(problem).toMatch(/^stages\[1\]\.beforeEntry\.rules\[0\]\.cron: the cron does not parse: .*hour.*, got "\* 25 \? \* \* \*"$/);
    expect(problems(stageWith('beforeEntry: { result: FAIL, rules: [{ name: R, provider: DeploymentWindow, cron: "0 9 * * *" }] }'))).toStrictEqual([
      'stages[1].beforeEntry.rules[0].cron: expected six fields (minutes hours day-of-month month day-of-week year), not 5, got "0 9 * * *"',
    ]);
  });

  it('an operator not in the list', () => {
    expect(
      problems(stageWith('beforeEntry: { result: SKIP, rules: [{ name: R, provider: VariableCheck, variable: x, value: y, operator: LIKE }] }')),
    ).toStrictEqual(['stages[1].beforeEntry.rules[0].operator: expected an operator: one of EQ, NE, CONTAINS, MATCHES, GT, GE, LT, LE, got "LIKE"']);
  });

  it('ROLLBACK in PARALLEL mode', () => {
    expect(problems(stageWith('onFailure: { result: ROLLBACK }'), 'name: web\nexecutionMode: PARALLEL')).toStrictEqual([
      'stages[1].onFailure.result: ROLLBACK is not available in PARALLEL execution mode (as in CodePipeline): use SUPERSEDED or QUEUED, or FAIL',
    ]);
  });

  it('a rule reference to a namespace that has not run', () => {
    expect(
      problems(`
  - name: Deploy
    beforeEntry: { result: SKIP, rules: [{ name: R, provider: VariableCheck, variable: "#{Out.X}", value: y, operator: EQ }] }
    actions: [{ name: Ship, kind: invoke, function: ship, namespace: Out, outputVariables: [X] }]`),
    ).toStrictEqual([
      'stages[1].beforeEntry.rules[0].variable: #{Out.X} refers to namespace "Out" of Deploy.Ship (stages[1].actions[0]), which has not run when this rule is checked',
    ]);
  });
});

describe('ROLLBACK', () => {
  const compiled = compile(`
  - name: Deploy
    onFailure: { result: ROLLBACK }
    onSuccess:
      result: ROLLBACK
      rules: [{ name: Errors, provider: CloudWatchAlarm, alarmName: web-5xx }]
    actions: [{ name: Ship, kind: invoke, function: ship, inputArtifacts: [Src], userParameters: "#{SourceVariables.CommitId}" }]
  - name: Announce
    actions: [{ name: Tell, kind: invoke, function: tell }]
`);
  const rolledBack = () => ({ Payload: { rollbackExecution: 'exec-2', targetExecution: 'exec-0' } });

  it('a failed stage starts its rollback, and the execution fails saying which execution rolls it back', async () => {
    const { outcome, calls } = await run(compiled, { 'Deploy · Ship': failing('health check failed'), 'Deploy · roll back': rolledBack });
    expect(outcome).toStrictEqual({
      status: 'FAILED',
      error: 'Stepline.BuildFailed',
      cause: 'Stage Deploy, action Ship failed: health check failed; rolled back by execution exec-2 to the state of execution exec-0',
    });
    const request = calls.find((c) => c.state === 'Deploy · roll back')?.input as { Payload: Record<string, unknown> };
    // The machine's own ARN ($$.StateMachine.Id): on AWS the conditions function starts the rollback on it.
    expect(request.Payload).toMatchObject({ request: 'rollback', pipeline: 'web', stage: 'Deploy', executionId: 'exec-1', stateMachineArn: 'local' });
    expect(calls.some((c) => c.state === 'Announce · Tell')).toBe(false);
  });

  it('onSuccess ROLLBACK rolls the stage back when the alarm fires after it succeeded', async () => {
    const { outcome, count } = await run(compiled, {
      'Deploy · check success conditions': conditionStub({ alarmState: async () => 'ALARM' }),
      'Deploy · roll back': rolledBack,
    });
    expect(count('Deploy · Ship')).toBe(1);
    expect(count('Deploy · roll back')).toBe(1);
    expect(outcome).toMatchObject({
      status: 'FAILED',
      error: 'Stepline.ConditionNotMet',
      cause: 'Stage Deploy: success conditions not met: rule Errors: alarm web-5xx is ALARM; rolled back by execution exec-2 to the state of execution exec-0',
    });
  });

  it('the rollback execution runs the stage alone with the good execution’s state, and does not roll back again', async () => {
    const good = {
      input: { pipeline: 'web', trigger: { type: 'Webhook' }, source: {}, variables: {} },
      variables: { ENV: 'prod' },
      actions: { Source_Checkout: { variables: { CommitId: 'good1' } } },
    };
    const input = rollbackInput('Deploy', 'exec-0', good, 'exec-1');
    const calls: StubCall[] = [];
    const outcome = await execute(compiled.definition, {
      input,
      executionName: 'exec-2',
      handlers: stubHandlers(compiled, {}, calls),
      waitTimeOverrides: noWaits(compiled),
    }).outcome;
    expect(outcome.status).toBe('SUCCEEDED');
    expect(calls.map((c) => c.state)).toStrictEqual(['Deploy · enter stage', 'Deploy · Ship']);
    const ship = calls.find((c) => c.state === 'Deploy · Ship')?.input as { Payload: { userParameters: string; inputArtifacts: Array<{ location: string }> } };
    expect(ship.Payload.userParameters).toBe('good1');
    // Its artifacts are its own: the runtime copies the target's inputs under the rollback execution.
    expect(ship.Payload.inputArtifacts[0]?.location).toContain('/exec-2/');

    const failed = await execute(compiled.definition, {
      input,
      executionName: 'exec-3',
      handlers: stubHandlers(compiled, { 'Deploy · Ship': failing('still broken') }, calls),
      waitTimeOverrides: noWaits(compiled),
    }).outcome;
    expect(failed).toMatchObject({ status: 'FAILED', cause: 'Stage Deploy, action Ship failed: still broken' });
    expect(calls.some((c) => c.state === 'Deploy · roll back')).toBe(false);
  });
});

describe('what a check sends', () => {
  const compiled = compile(`
  - name: Build
    actions: [{ name: Make, kind: commands, commands: [make], inputArtifacts: [Src], outputArtifacts: [Site] }]
  - name: Deploy
    beforeEntry:
      result: FAIL
      rules:
        - { name: Smoke, provider: Commands, commands: [./smoke] }
        - { name: Pinned, provider: Commands, commands: [./pinned], inputArtifacts: [Src] }
    actions: [{ name: Ship, kind: invoke, function: ship, inputArtifacts: [Site, Src] }]
`);

  it('names the run it is in, the same at each re-check of one evaluation, and gives Commands rules their input artifacts', async () => {
    let checks = 0;
    const answer = conditionStub({
      commands: async () => (++checks < 3 ? { running: true, reason: 'building', waitSeconds: 15 } : { passed: true, reason: 'built' }),
    });
    const { outcome, calls } = await run(compiled, { 'Deploy · check entry conditions': answer, 'Deploy · check entry conditions again': answer });
    expect(outcome.status).toBe('SUCCEEDED');
    const sent = calls.filter((c) => c.state.startsWith('Deploy · check entry conditions')).map((c) => (c.input as { Payload: ConditionCheckPayload }).Payload);
    expect(sent.length).toBeGreaterThan(1);
    expect(new Set(sent.map((p) => p.run)).size).toBe(1);
    expect(Number.isNaN(Date.parse(sent[0]?.run ?? ''))).toBe(false);
    // A rule that names none runs in the stage's inputs made by earlier stages.
    expect(sent[0]?.rules.map((r) => [r.name, r.provider === 'Commands' ? r.inputArtifacts : undefined])).toStrictEqual([
      ['Smoke', ['Site', 'Src']],
      ['Pinned', ['Src']],
    ]);
  });

  it('refuses a Commands rule input artifact that is not made before the rule runs, with its path', () => {
    expect(
      refusalOf(() =>
        compile(`
  - name: Deploy
    beforeEntry:
      result: FAIL
      rules: [{ name: Smoke, provider: Commands, commands: [./smoke], inputArtifacts: [Site] }]
    actions: [{ name: Make, kind: commands, commands: [make], inputArtifacts: [Src], outputArtifacts: [Site] }]
`),
      ),
    ).toStrictEqual([
      'stages[1].beforeEntry.rules[0].inputArtifacts[0]: artifact "Site" is produced by Deploy.Make (stages[1].actions[0]), which has not run when this rule is checked',
    ]);
  });
});

describe('rules each target cannot run are said before the run', () => {
  const stages = `
  - name: Deploy
    beforeEntry:
      result: FAIL
      rules:
        - { name: Smoke, provider: Commands, commands: [./smoke] }
        - { name: Errors, provider: CloudWatchAlarm, alarmName: web-5xx }
    actions: [{ name: Ship, kind: invoke, function: ship, command: ./ship }]`;
  const parsed = parsePipelineText(`name: web\nstages:${SOURCE}\n${stages}`);

  it('on AWS, a LambdaInvoke rule with only a command; a Commands rule runs there (on CodeBuild)', () => {
    expect(compilePipeline(parsed, { target: 'aws' }).warnings).toStrictEqual([]);
    const local = parsePipelineText(
      `name: web\nstages:${SOURCE}\n${stages.replace('provider: Commands, commands: [./smoke]', 'provider: LambdaInvoke, command: ./smoke')}`,
    );
    expect(compilePipeline(local, { target: 'aws' }).warnings).toStrictEqual([
      { path: 'stages[1].beforeEntry.rules[0]', message: 'a LambdaInvoke rule needs a functionName to run on AWS (a command runs only on one machine)' },
    ]);
  });

  it('on one machine, an alarm rule without local.command', () => {
    expect(compilePipeline(parsed, { target: 'local' }).warnings).toStrictEqual([
      {
        path: 'stages[1].beforeEntry.rules[1]',
        message: 'on one machine a CloudWatchAlarm rule reads its alarm from local.command (exit 0: OK, else ALARM); add one for web-5xx',
      },
    ]);
  });
});
