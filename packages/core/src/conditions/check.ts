/**
 * One check of a stage condition: the contract between the compiled machine's check Task and the
 * function (or local handler) that answers it, and the evaluation both runtimes share. The machine
 * loops on WAIT (a Wait state, then the check again with `watch`), so no function waits itself.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works-conditions.html
 */
import type { ConditionKind } from '../compiler/names';
import type { Rule } from '../model/conditions';
import { deploymentWindow } from './deployment-window';
import { conditionEvaluation } from './evaluation';
import { type ConditionOverride, overriddenResult } from './override';
import { checkVariable } from './variable-check';

/** What the check Task sends: the rules with their references already resolved. */
export interface ConditionCheckPayload {
  pipeline: string;
  stage: string;
  executionId: string;
  condition: ConditionKind;
  rules: Rule[];
  /** What an earlier check of this condition asked to keep (an alarm watched until a time). */
  watch?: ConditionWatch;
  /** When the run of the execution this check is in started (`$$.Execution.StartTime`): see ./evaluation.ts. */
  run?: string;
}

export interface ConditionWatch {
  /** ISO time until which alarms are watched. */
  alarmsUntil?: string;
  /** Commands rules running elsewhere (a CodeBuild build on AWS): rule name → the build's id. */
  builds?: Record<string, string>;
}

/** What a rule's effect answers: passed or not, or (a build still running) to be asked again later. */
export type EffectOutcome = { passed: boolean; reason: string } | { running: true; reason: string; waitSeconds: number };

export const CheckStatus = { Pass: 'PASS', NotMet: 'NOT_MET', Wait: 'WAIT' } as const;
export type CheckStatus = (typeof CheckStatus)[keyof typeof CheckStatus];

export interface RuleOutcome {
  rule: string;
  provider: Rule['provider'];
  status: CheckStatus;
  reason: string;
}

export interface ConditionCheckResult {
  status: CheckStatus;
  /** The rule that did not pass (NOT_MET) or is waited for (WAIT). */
  rule?: string;
  reason: string;
  /** WAIT: when to check again. */
  waitSeconds?: number;
  watch?: ConditionWatch;
  rules: RuleOutcome[];
  /** Set when someone let the condition through by hand (override-stage-condition). */
  overridden?: ConditionOverride;
  /** The evaluation this check belongs to (`conditionEvaluation`): what an override of it is recorded under. */
  evaluation?: string;
}

/** The effects a rule needs from its runtime: an alarm's state, a function or command run. */
export interface RuleEffects {
  /** The alarm's state (OK, ALARM, INSUFFICIENT_DATA), or undefined when no alarm has that name. */
  alarmState(rule: Extract<Rule, { provider: 'CloudWatchAlarm' }>): Promise<string | undefined>;
  invoke(rule: Extract<Rule, { provider: 'LambdaInvoke' }>): Promise<{ passed: boolean; reason: string }>;
  /** `watch` carries what an earlier check started (a build), and keeps what this one starts. */
  commands(rule: Extract<Rule, { provider: 'Commands' }>, watch: ConditionWatch): Promise<EffectOutcome>;
  /**
   * The condition's outcome is known without this Commands rule (another rule not met, an override):
   * stop what an earlier check started for it (`watch.builds`). Absent where commands end within the check.
   */
  stopCommands?(rule: Extract<Rule, { provider: 'Commands' }>, buildId: string): Promise<void>;
}

/** An alarm being watched is looked at again at most this often. */
export const ALARM_POLL_SECONDS = 60;

/**
 * A waiting condition is checked again at least this often, however far off the window's opening is:
 * an override (see ./override.ts) is seen within this time. A closed window costs a round of three
 * transitions per period.
 */
export const OVERRIDE_POLL_SECONDS = 300;

/**
 * One check of a condition's rules. With `override` (someone let the condition through by hand), no
 * rule runs and every rule passes, naming who did it.
 */
export async function evaluateCondition(
  payload: ConditionCheckPayload,
  effects: RuleEffects,
  now: Date,
  override?: ConditionOverride,
): Promise<ConditionCheckResult> {
  const evaluation = conditionEvaluation(payload);
  const result = await evaluateRules(payload, effects, now, override);
  return evaluation === undefined ? result : { ...result, evaluation };
}

async function evaluateRules(payload: ConditionCheckPayload, effects: RuleEffects, now: Date, override?: ConditionOverride): Promise<ConditionCheckResult> {
  if (override) {
    await stopBuilds(payload, effects, payload.watch ?? {}, new Set());
    return overriddenResult(payload, override);
  }
  const outcomes: RuleOutcome[] = [];
  const watch: ConditionWatch = { ...payload.watch };
  let waitSeconds: number | undefined;
  for (const rule of payload.rules) {
    const outcome = await evaluateRule(rule, effects, now, watch);
    outcomes.push({ rule: rule.name, provider: rule.provider, status: outcome.status, reason: outcome.reason });
    // Rules must all pass: the first that does not decides, and later ones are not run; the builds
    // still running for the others are stopped (a rule that passed or failed here has ended its own).
    if (outcome.status === CheckStatus.NotMet) {
      await stopBuilds(payload, effects, watch, new Set(outcomes.filter((o) => o.status !== CheckStatus.Wait).map((o) => o.rule)));
      return { status: CheckStatus.NotMet, rule: rule.name, reason: outcome.reason, rules: outcomes };
    }
    if (outcome.status === CheckStatus.Wait) waitSeconds = Math.min(waitSeconds ?? Number.POSITIVE_INFINITY, outcome.waitSeconds ?? ALARM_POLL_SECONDS);
  }
  const waiting = outcomes.find((o) => o.status === CheckStatus.Wait);
  if (waiting && waitSeconds !== undefined) {
    return {
      status: CheckStatus.Wait,
      rule: waiting.rule,
      reason: waiting.reason,
      waitSeconds: Math.min(OVERRIDE_POLL_SECONDS, Math.max(1, Math.ceil(waitSeconds))),
      watch,
      rules: outcomes,
    };
  }
  return { status: CheckStatus.Pass, reason: `${outcomes.length} rule${outcomes.length === 1 ? '' : 's'} passed`, rules: outcomes };
}

/** Stops the builds `watch` holds for Commands rules, except those of rules known to have ended. */
async function stopBuilds(payload: ConditionCheckPayload, effects: RuleEffects, watch: ConditionWatch, ended: ReadonlySet<string>): Promise<void> {
  if (!effects.stopCommands) return;
  for (const rule of payload.rules) {
    const buildId = watch.builds?.[rule.name];
    if (rule.provider === 'Commands' && buildId !== undefined && !ended.has(rule.name)) await effects.stopCommands(rule, buildId);
  }
}

async function evaluateRule(
  rule: Rule,
  effects: RuleEffects,
  now: Date,
  watch: ConditionWatch,
): Promise<{ status: CheckStatus; reason: string; waitSeconds?: number }> {
  const passOrNot = (passed: boolean, reason: string) => ({ status: passed ? CheckStatus.Pass : CheckStatus.NotMet, reason });
  switch (rule.provider) {
    case 'VariableCheck': {
      const { passed, reason } = checkVariable(rule.operator, rule.variable, rule.value);
      return passOrNot(passed, `${rule.operator}: ${reason}`);
    }
    case 'DeploymentWindow': {
      const window = deploymentWindow(rule.cron, rule.timeZone, now);
      if (window.open) return { status: CheckStatus.Pass, reason: `inside the window ${rule.cron} (${rule.timeZone})` };
      if (!window.opensAt) return { status: CheckStatus.NotMet, reason: `the window ${rule.cron} (${rule.timeZone}) never opens again` };
      return {
        status: CheckStatus.Wait,
        reason: `outside the window ${rule.cron} (${rule.timeZone}); it opens at ${window.opensAt.toISOString()}`,
        waitSeconds: (window.opensAt.getTime() - now.getTime()) / 1000,
      };
    }
    case 'CloudWatchAlarm': {
      const state = await effects.alarmState(rule);
      // A typo must not turn the check off, nor read as an alarm that fires.
      if (state === undefined)
        return { status: CheckStatus.NotMet, reason: `alarm ${rule.alarmName} does not exist: a missing alarm counts as not met (check its name and region)` };
      if (rule.alarmStates.includes(state as (typeof rule.alarmStates)[number]))
        return { status: CheckStatus.NotMet, reason: `alarm ${rule.alarmName} is ${state}` };
      watch.alarmsUntil ??= new Date(now.getTime() + rule.waitTimeMinutes * 60_000).toISOString();
      const left = (Date.parse(watch.alarmsUntil) - now.getTime()) / 1000;
      if (left > 0)
        return {
          status: CheckStatus.Wait,
          reason: `watching alarm ${rule.alarmName} (${state}) until ${watch.alarmsUntil}`,
          waitSeconds: Math.min(left, ALARM_POLL_SECONDS),
        };
      return { status: CheckStatus.Pass, reason: `alarm ${rule.alarmName} is ${state}` };
    }
    case 'LambdaInvoke': {
      const { passed, reason } = await effects.invoke(rule);
      return passOrNot(passed, reason);
    }
    case 'Commands': {
      const outcome = await effects.commands(rule, watch);
      if ('running' in outcome) return { status: CheckStatus.Wait, reason: outcome.reason, waitSeconds: outcome.waitSeconds };
      return passOrNot(outcome.passed, outcome.reason);
    }
  }
}
