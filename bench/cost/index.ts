/**
 * What one execution of the reference pipeline costs on AWS: stepline (Step Functions Standard, its
 * Lambdas, CodeBuild) beside CodePipeline V2 running the same actions on the same CodeBuild.
 *
 * The state transitions are counted, not estimated: the pipeline is compiled for AWS and its state
 * machine executed by the local engine with every Task bound to a stub answering as its integration
 * would (test/helpers/stub-handlers.ts). Step Functions bills one transition per state entered,
 * retries included; a `.sync` or `.waitForTaskToken` Task is one however long it runs, and a Wait state
 * is one however long it waits, so the durations below change the minutes, never the transitions.
 *
 *   npx tsx bench/cost/index.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePipeline, parsePipelineText } from '@stepline/core';
import { type EngineEvent, execute } from '@stepline/local';
import { conditionStub, noWaits, type Override, type StubCall, stubHandlers } from '../../test/helpers/stub-handlers';

/** us-east-1 list prices, read on the date below (see BENCHMARKS.md for the pages). */
const PRICES = {
  readOn: '2026-12-04',
  stepFunctionsPerTransition: 0.025 / 1_000,
  lambdaPerRequest: 0.2 / 1_000_000,
  lambdaPerGbSecond: 0.0000166667,
  codeBuildSmallPerMinute: 0.005,
  codePipelineV2PerActionMinute: 0.002,
};

/** The reference pipeline (reference.yml): source, a 10-minute build, two 5-minute tests in parallel, an approval, an ECS canary 10% for 5 minutes. */
const DEFINITION = readFileSync(join(import.meta.dirname, 'reference.yml'), 'utf8');
/** Minutes each action runs (the canary: its bake plus about 2 minutes to start and drain task sets). */
const MINUTES = { source: 1, build: 10, test: 5, deploy: 7 };
/** Lambda invocations outside the machine: the webhook that starts it and the approval link's answer. */
const LAMBDAS_OUTSIDE = 2;
const LAMBDA_GB = 0.25;
const LAMBDA_SECONDS = 0.3;

/** Executes a definition with stubs; returns the compiled machine and the states entered, in order. */
async function enteredStates(definition: string, overrides: Record<string, Override> = {}) {
  const compiled = compilePipeline(parsePipelineText(definition), { target: 'aws' });
  const calls: StubCall[] = [];
  const events: EngineEvent[] = [];
  const outcome = await execute(compiled.definition, {
    input: { pipeline: 'reference', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} },
    executionName: 'cost-1',
    handlers: stubHandlers(compiled, overrides, calls),
    waitTimeOverrides: noWaits(compiled),
    onEvent: (e) => events.push(e),
  }).outcome;
  if (outcome.status !== 'SUCCEEDED') throw new Error(`the reference pipeline did not succeed with stubs: ${JSON.stringify(outcome)}`);
  return { compiled, entered: events.filter((e) => e.type === 'StateEntered') };
}

const { compiled, entered } = await enteredStates(DEFINITION);
const byType = new Map<string, number>();
const resourceOf = new Map<string, string>();
const walk = (
  states: Record<
    string,
    { Type: string; Resource?: string; Branches?: Array<{ States: Record<string, never> }>; ItemProcessor?: { States: Record<string, never> } }
  >,
) => {
  for (const [name, state] of Object.entries(states)) {
    resourceOf.set(name, state.Type === 'Task' ? (state.Resource ?? 'Task') : state.Type);
    for (const branch of state.Branches ?? []) walk(branch.States);
    if (state.ItemProcessor) walk(state.ItemProcessor.States);
  }
};
walk(compiled.definition.States as never);
for (const e of entered) {
  const kind = resourceOf.get(e.state.name) ?? 'unknown';
  byType.set(kind, (byType.get(kind) ?? 0) + 1);
}
const transitions = entered.length;
const lambdaTasks = [...byType].filter(([k]) => k.startsWith('arn:aws:states:::lambda:invoke')).reduce((n, [, c]) => n + c, 0);
const lambdas = lambdaTasks + LAMBDAS_OUTSIDE;
const buildMinutes = MINUTES.build + 2 * MINUTES.test;

const stepline = {
  stepFunctions: transitions * PRICES.stepFunctionsPerTransition,
  lambda: lambdas * (PRICES.lambdaPerRequest + LAMBDA_GB * LAMBDA_SECONDS * PRICES.lambdaPerGbSecond),
  codeBuild: buildMinutes * PRICES.codeBuildSmallPerMinute,
};
// CodePipeline V2 bills every action's minutes, rounded up, except manual approvals; the two tests in
// parallel are two actions. CodeDeploy itself is free for ECS.
const actionMinutes = MINUTES.source + MINUTES.build + 2 * MINUTES.test + MINUTES.deploy;
const codePipeline = {
  actions: actionMinutes * PRICES.codePipelineV2PerActionMinute,
  codeBuild: buildMinutes * PRICES.codeBuildSmallPerMinute,
};
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
const usd = (n: number) => `$${n.toFixed(5)}`;

console.log(`state transitions of one execution (stepline's compiled machine, counted by the local engine): ${transitions}`);
for (const [kind, count] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`  ${String(count).padStart(4)}  ${kind}`);
if (process.argv.includes('--states')) for (const e of entered) console.log(`    ${e.state.name}`);
console.log(`Lambda invocations: ${lambdaTasks} from the machine + ${LAMBDAS_OUTSIDE} outside it (webhook, approval answer)`);
console.log(`prices (us-east-1, read ${PRICES.readOn}): ${JSON.stringify(PRICES)}`);
console.log(
  `stepline:        Step Functions ${usd(stepline.stepFunctions)} + Lambda ${usd(stepline.lambda)} + CodeBuild ${usd(stepline.codeBuild)} = ${usd(sum(stepline))}`,
);
console.log(
  `CodePipeline V2: ${actionMinutes} action minutes ${usd(codePipeline.actions)} + CodeBuild ${usd(codePipeline.codeBuild)} = ${usd(sum(codePipeline))}`,
);
console.log(
  `orchestration alone: stepline ${usd(stepline.stepFunctions + stepline.lambda)} vs CodePipeline ${usd(codePipeline.actions)} (${((stepline.stepFunctions + stepline.lambda) / codePipeline.actions).toFixed(2)}x)`,
);
console.log(
  `executions a month before the free tiers run out: Step Functions ${Math.floor(4_000 / transitions)}, CodePipeline V2 ${Math.floor(100 / actionMinutes)}`,
);

// Stage conditions: what one condition on the Deploy stage adds to the same execution, per rule kind.
// A rule that passes at once costs its check Task and a Choice; a rule that waits adds a Wait, a
// second check and the Choice again per round (a closed window: one round per 5 minutes it stays
// closed, so that an override is seen; an alarm watched for WaitTime: one round a minute).
const withCondition = (condition: string, stage = 'Deploy') => DEFINITION.replace(`  - name: ${stage}\n`, `  - name: ${stage}\n${condition}\n`);
const rule = (body: string) => `    beforeEntry: { result: FAIL, rules: [{ name: R, ${body} }] }`;
const minuteAfterMinute = () => {
  let checks = 0;
  return conditionStub({}, () => new Date(Date.parse('2026-12-05T10:00:00Z') + checks++ * 60_000));
};
/** Monday 08:30, each check 5 minutes later (the longest a waiting condition waits): closed for 30 minutes, then open. */
const closedThenOpen = () => {
  let checks = 0;
  return conditionStub({}, () => new Date(Date.parse('2026-12-07T08:30:00Z') + checks++ * 300_000));
};
/** The conditions function's Commands rule: the build runs through four checks, then succeeds. */
const buildForAMinute = () => {
  let checks = 0;
  return conditionStub({
    commands: async () => (checks++ < 4 ? { running: true, reason: 'building', waitSeconds: 15 } : { passed: true, reason: 'built' }),
  });
};
const checks = (stub: () => Override, kind = 'entry') => {
  const shared = stub();
  return { [`Deploy · check ${kind} conditions`]: shared, [`Deploy · check ${kind} conditions again`]: shared };
};
const cases: Array<[string, string, Record<string, Override>, string?]> = [
  ['VariableCheck (passes)', rule('provider: VariableCheck, variable: main, operator: EQ, value: main'), {}],
  ['LambdaInvoke (passes)', rule('provider: LambdaInvoke, functionName: check'), {}],
  ['Commands (pass)', rule('provider: Commands, commands: [./smoke]'), {}],
  ['Commands on AWS (a one-minute CodeBuild build, looked at every 15 s)', rule('provider: Commands, commands: [./smoke]'), checks(buildForAMinute)],
  ['DeploymentWindow (open)', rule('provider: DeploymentWindow, cron: "* * ? * * *"'), {}],
  ['DeploymentWindow (closed 30 minutes, then open)', rule('provider: DeploymentWindow, cron: "* 9-17 ? * MON-FRI *"'), checks(closedThenOpen)],
  ['CloudWatchAlarm (checked once)', rule('provider: CloudWatchAlarm, alarmName: web-5xx'), {}],
  [
    'CloudWatchAlarm (onSuccess, watched 5 minutes)',
    '    onSuccess: { result: FAIL, rules: [{ name: R, provider: CloudWatchAlarm, alarmName: web-5xx, waitTimeMinutes: 5 }] }',
    checks(minuteAfterMinute, 'success'),
  ],
  ['onFailure RETRY on the Build stage (no failure)', '    onFailure: { result: RETRY }', {}, 'Build'],
  [
    'onFailure RETRY on the Build stage (one failure, retried)',
    '    onFailure: { result: RETRY }',
    (() => {
      let failed = false;
      return {
        'Build · Compile': (input: unknown) => {
          if (!failed) {
            failed = true;
            throw Object.assign(new Error('flaky'), { name: 'Stepline.BuildFailed' });
          }
          return stubHandlers(compiled)['Build · Compile']?.(input);
        },
      };
    })(),
    'Build',
  ],
];
console.log('transitions a stage condition adds to one execution (on the Deploy stage unless said):');
for (const [label, condition, overrides, stage] of cases) {
  const run = await enteredStates(withCondition(condition, stage), overrides);
  const added = run.entered.length - transitions;
  console.log(`  ${String(added).padStart(4)}  ${label}  (${usd(added * PRICES.stepFunctionsPerTransition)})`);
}
