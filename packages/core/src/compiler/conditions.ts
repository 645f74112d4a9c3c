/**
 * Stage conditions in the ASL, so both runtimes orchestrate them alike: a check Task (the conditions
 * function on AWS, a local handler on one machine) answers PASS, NOT_MET or WAIT; a Choice applies
 * the answer. WAIT goes through a Wait state and checks again, so a deployment window or an alarm
 * watch costs transitions, not a function held open.
 */
import { type DefinitionIssue, ErrorName } from '../errors';
import type { Rule } from '../model/conditions';
import type { Stage } from '../model/schema';
import type { ResolvedCompileOptions, StateInfo } from './context';
import type { IamStatement } from './iam';
import { FUNCTION_TRANSIENT_ERRORS, Resource, retryTransient, Timeout } from './integrations';
import {
  type ConditionKind,
  ConditionLabel,
  conditionCheckName,
  conditionChoiceName,
  conditionFailedName,
  conditionRecheckName,
  conditionWaitName,
  FixedState,
  onFailureStateName,
  retryStageName,
  rollbackEndsName,
  rollbackStageName,
  rolledBackName,
  skipStageName,
} from './names';
import { escapeLiteral, type ReferenceResolver } from './references';
import { type CatchRule, choice, type JsonObject, pass, type State, StatesError, task, wait } from './states';

/** Where a check's answer is kept: `$.check.result` is the function's answer. */
const CHECK_PATH = '$.check';
const RESULT = `${CHECK_PATH}.result`;

export interface ConditionContext {
  pipeline: { name: string; stages: readonly Stage[] };
  /** What a target lacks to run a rule (a LambdaInvoke rule without a function on AWS, an alarm without a local command on one machine). */
  warnings: DefinitionIssue[];
  options: ResolvedCompileOptions;
  refs: ReferenceResolver;
  states: Record<string, State>;
  iam: IamStatement[];
  record(name: string, state: State, info: StateInfo): void;
}

export interface ConditionOutcomes {
  /** Every rule passed. */
  passed: string;
  /** A rule did not pass: where the condition's result goes (FAIL: a failure state, SKIP: the next stage). */
  notMet: string;
}

/**
 * The rules as the check function receives them: references resolved at run time, by the machine; a
 * Commands rule with the artifacts it runs in (its own `inputArtifacts`, or the stage's inputs).
 */
function rulesPayload(ctx: ConditionContext, stage: Stage, rules: readonly Rule[]): JsonObject[] {
  return rules.map((rule) => {
    const out: JsonObject = {};
    const withInputs = rule.provider === 'Commands' ? { ...rule, inputArtifacts: rule.inputArtifacts ?? stageInputs(ctx, stage) } : rule;
    for (const [key, value] of Object.entries(withInputs)) {
      if (typeof value === 'string') ctx.refs.assign(out, key, value);
      else if (value !== undefined) out[key] = value as JsonObject[string];
    }
    return out;
  });
}

/** The artifacts a stage's actions take in that earlier stages made: what a Commands rule runs in when it names none. */
function stageInputs(ctx: ConditionContext, stage: Stage): string[] {
  const earlier = ctx.pipeline.stages.slice(0, ctx.pipeline.stages.indexOf(stage)).flatMap((s) => s.actions.flatMap((a) => a.outputArtifacts));
  return [...new Set(stage.actions.flatMap((a) => a.inputArtifacts))].filter((name) => earlier.includes(name));
}

/**
 * The check of one condition: `check` → `met?` → passed | notMet, with `wait for` → `check again`
 * while a rule waits (a closed deployment window, an alarm watched for its WaitTime).
 */
export function compileConditionCheck(ctx: ConditionContext, stage: Stage, kind: ConditionKind, rules: readonly Rule[], outcomes: ConditionOutcomes): string {
  const at = `stages[${ctx.pipeline.stages.indexOf(stage)}].${kind}.rules`;
  rules.forEach((rule, r) => {
    const lack = ruleLacks(rule, ctx.options.target);
    if (lack) ctx.warnings.push({ path: `${at}[${r}]`, message: lack });
  });
  const fn = ctx.options.functions.conditions;
  ctx.iam.push({ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [fn] });
  const info: StateInfo = { role: 'condition', stage: stage.name };
  const names = {
    check: conditionCheckName(stage.name, kind),
    again: conditionRecheckName(stage.name, kind),
    choice: conditionChoiceName(stage.name, kind),
    wait: conditionWaitName(stage.name, kind),
    failed: conditionFailedName(stage.name, kind),
  };
  const payload: JsonObject = {
    pipeline: ctx.pipeline.name,
    stage: stage.name,
    'executionId.$': '$$.Execution.Name',
    // Names the evaluation (core's conditions/evaluation.ts): an override is for it, a build started in it.
    'run.$': '$$.Execution.StartTime',
    condition: kind,
    rules: rulesPayload(ctx, stage, rules),
    'variables.$': '$.variables',
  };
  const checkTask = (watch: boolean) =>
    task({
      resource: Resource.LambdaInvoke,
      parameters: { FunctionName: fn, Payload: watch ? { ...payload, 'watch.$': `${RESULT}.watch` } : payload },
      resultSelector: { 'result.$': '$.Payload' },
      resultPath: CHECK_PATH,
      timeoutSeconds: Timeout.conditionMinutes * 60,
      retry: retryTransient(FUNCTION_TRANSIENT_ERRORS),
      catch: catchTo(names.failed),
      next: names.choice,
    });
  ctx.record(names.check, checkTask(false), info);
  ctx.record(names.again, checkTask(true), info);
  ctx.record(
    names.choice,
    choice(
      [
        { Variable: `${RESULT}.status`, StringEquals: 'WAIT', Next: names.wait },
        { Variable: `${RESULT}.status`, StringEquals: 'PASS', Next: outcomes.passed },
      ],
      outcomes.notMet,
    ),
    info,
  );
  ctx.record(names.wait, wait({ secondsPath: `${RESULT}.waitSeconds`, next: names.again }), { ...info, waiting: true });
  // A check that could not run (the function failed) fails the stage like an unmet rule.
  ctx.record(
    names.failed,
    pass({
      parameters: {
        'Error.$': '$.failure.Error',
        'Cause.$': `States.Format('${escapeLiteral(`Stage ${stage.name}: the ${ConditionLabel[kind]} could not be checked:`)} {}', $.failure.Cause)`,
      },
      resultPath: '$.failure',
      next: FixedState.Failed,
    }),
    info,
  );
  return names.check;
}

/** A condition that was not met: the failure names the stage and the rule; the execution fails (or rolls back, `next`). */
export function conditionFailure(ctx: ConditionContext, stage: Stage, kind: ConditionKind, next: string = FixedState.Failed): string {
  const name = `${conditionFailedName(stage.name, kind)} (fail)`;
  ctx.record(
    name,
    pass({
      parameters: {
        Error: ErrorName.ConditionNotMet,
        'Cause.$': `States.Format('${escapeLiteral(`Stage ${stage.name}: ${ConditionLabel[kind]} not met: rule`)} {}: {}', ${RESULT}.rule, ${RESULT}.reason)`,
      },
      resultPath: '$.failure',
      next,
    }),
    { role: 'failure', stage: stage.name },
  );
  return name;
}

/** An entry condition whose result is SKIP: the stage is passed over (Skipped in the pipeline state). */
export function skipStage(ctx: ConditionContext, stage: Stage, next: string): string {
  const name = skipStageName(stage.name);
  ctx.record(name, pass({ next }), { role: 'skip', stage: stage.name });
  return name;
}

/**
 * onFailure: RETRY sends the first failure of the stage back to its start once (CodePipeline allows
 * one automatic attempt), and a stage marked as retried already fails; with FAILED_ACTIONS the actions
 * that succeeded are passed over (see `alreadySucceededName`), with ALL_ACTIONS they run again.
 * ROLLBACK starts the stage's rollback (see `compileRollback`), unless this execution is a rollback.
 * With rules, the result applies only when they all pass.
 */
export function compileOnFailure(ctx: ConditionContext, stage: Stage, retryKey: string, stageStart: string, rollback: string | undefined): string {
  const onFailure = stage.onFailure;
  const name = onFailureStateName(stage.name);
  if (!onFailure || onFailure.result === 'FAIL') return FixedState.Failed;
  const info: StateInfo = { role: 'condition', stage: stage.name };
  const retryName = retryStageName(stage.name);
  const apply = onFailure.result === 'RETRY' ? retryName : (rollback ?? FixedState.Failed);
  const afterRules = onFailure.rules ? compileConditionCheck(ctx, stage, 'onFailure', onFailure.rules, { passed: apply, notMet: FixedState.Failed }) : apply;
  const done =
    onFailure.result === 'RETRY'
      ? { Variable: `$.actions.${retryKey}`, IsPresent: true, Next: FixedState.Failed }
      : { Variable: ROLLBACK_INPUT, IsPresent: true, Next: FixedState.Failed };
  ctx.record(name, choice([done], afterRules), info);
  if (onFailure.result === 'RETRY') {
    ctx.record(
      retryName,
      pass({
        parameters: { attempt: 2, mode: onFailure.retryMode ?? 'FAILED_ACTIONS', 'failure.$': '$.failure' },
        resultPath: `$.actions.${retryKey}`,
        next: stageStart,
      }),
      { role: 'retry', stage: stage.name },
    );
  }
  return name;
}

/** Set in a rollback execution's input: the stage it rolls back and the execution whose state it runs with. */
export const ROLLBACK_INPUT = '$.input.rollback';

/**
 * ROLLBACK, as CodePipeline's RollbackStage: the `roll back` Task starts a new execution that runs
 * this stage alone with the state (variables, artifacts) of the last execution that succeeded through
 * it; this execution then fails with its own error, saying which execution rolls it back.
 */
export function compileRollback(ctx: ConditionContext, stage: Stage): string {
  const fn = ctx.options.functions.conditions;
  ctx.iam.push({ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [fn] });
  const name = rollbackStageName(stage.name);
  const done = rolledBackName(stage.name);
  const failed = `${name} failed`;
  const info: StateInfo = { role: 'rollback', stage: stage.name };
  ctx.record(
    name,
    task({
      resource: Resource.LambdaInvoke,
      parameters: {
        FunctionName: fn,
        Payload: {
          request: 'rollback',
          pipeline: ctx.pipeline.name,
          stage: stage.name,
          'executionId.$': '$$.Execution.Name',
          'stateMachineArn.$': '$$.StateMachine.Id',
          'failure.$': '$.failure',
        },
      },
      resultSelector: { 'rollbackExecution.$': '$.Payload.rollbackExecution', 'targetExecution.$': '$.Payload.targetExecution' },
      resultPath: '$.rollback',
      timeoutSeconds: Timeout.conditionMinutes * 60,
      retry: retryTransient(FUNCTION_TRANSIENT_ERRORS),
      catch: [{ ErrorEquals: [StatesError.All], ResultPath: '$.rollbackFailure', Next: failed }],
      next: done,
    }),
    info,
  );
  ctx.record(
    done,
    pass({
      parameters: {
        'Error.$': '$.failure.Error',
        'Cause.$':
          "States.Format('{}; rolled back by execution {} to the state of execution {}', $.failure.Cause, $.rollback.rollbackExecution, $.rollback.targetExecution)",
      },
      resultPath: '$.failure',
      next: FixedState.Failed,
    }),
    info,
  );
  ctx.record(
    failed,
    pass({
      parameters: { 'Error.$': '$.failure.Error', 'Cause.$': "States.Format('{}; the rollback did not start: {}', $.failure.Cause, $.rollbackFailure.Cause)" },
      resultPath: '$.failure',
      next: FixedState.Failed,
    }),
    info,
  );
  return name;
}

/** After a stage that may be rolled back: a rollback execution ends here, having run the stage alone. */
export function rollbackEnds(ctx: ConditionContext, stage: Stage, next: string): string {
  const name = rollbackEndsName(stage.name);
  ctx.record(name, choice([{ Variable: ROLLBACK_INPUT, IsPresent: true, Next: FixedState.Succeeded }], next), { role: 'rollback', stage: stage.name });
  return name;
}

/** What a rule lacks to run on a target: each rule's effect exists on one runtime, or both. */
function ruleLacks(rule: Rule, target: 'aws' | 'local'): string | undefined {
  if (target === 'aws') {
    if (rule.provider === 'LambdaInvoke' && rule.functionName === undefined)
      return 'a LambdaInvoke rule needs a functionName to run on AWS (a command runs only on one machine)';
    return undefined;
  }
  if (rule.provider === 'CloudWatchAlarm' && rule.local === undefined) {
    return `on one machine a CloudWatchAlarm rule reads its alarm from local.command (exit 0: OK, else ALARM); add one for ${rule.alarmName}`;
  }
  if (rule.provider === 'LambdaInvoke' && rule.command === undefined) return 'on one machine a LambdaInvoke rule runs its command: add one';
  return undefined;
}

const catchTo = (next: string): CatchRule[] => [{ ErrorEquals: [StatesError.All], ResultPath: '$.failure', Next: next }];
