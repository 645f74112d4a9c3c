/**
 * OverrideStageCondition: a person lets a waiting condition through by hand (a deployment window that
 * is closed, an alarm being watched). The compiled machine is the same on both runtimes: the check Task
 * looks for an override record of its condition before it evaluates the rules (in the SQLite history
 * on one machine, in the artifact bucket on AWS), and passes, naming who and when, when it finds one.
 * A waiting condition is checked again at least every `OVERRIDE_POLL_SECONDS` (./check.ts), so the
 * override takes effect within that time however long the window stays closed.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_OverrideStageCondition.html
 */
import { type ConditionKind, ConditionLabel } from '../compiler/names';
import { ErrorName, SteplineError } from '../errors';
import { ExecutionStatus } from '../history/execution-status';
import type { PipelineState } from '../history/pipeline-state';
import type { Pipeline } from '../model/schema';
import { CheckStatus, type ConditionCheckPayload, type ConditionCheckResult } from './check';

/** Who let a condition through, and when (ISO 8601). */
export interface ConditionOverride {
  by: string;
  at: string;
}

/** OverrideStageCondition's conditionType → the condition it overrides; ON_FAILURE is not overridable, as on AWS. */
export const OverridableCondition = { BEFORE_ENTRY: 'beforeEntry', ON_SUCCESS: 'onSuccess' } as const satisfies Record<string, ConditionKind>;
export type OverridableConditionType = keyof typeof OverridableCondition;

/** The condition a `--condition-type` names, or a refusal that lists what is accepted. */
export function overridableCondition(conditionType: string): ConditionKind {
  const kind = OverridableCondition[conditionType as OverridableConditionType];
  if (kind === undefined) {
    throw new SteplineError(
      ErrorName.ControlRefused,
      `condition type ${JSON.stringify(conditionType)} cannot be overridden: expected ${Object.keys(OverridableCondition).join(' or ')}`,
    );
  }
  return kind;
}

/**
 * Refuses an override that has nothing to let through: the execution is not in progress, the stage has
 * no such condition, or the stage is not waiting on it now (read from the pipeline state of that execution).
 * Answers the evaluation that waits (see ./evaluation.ts): the override is for it alone.
 */
export function checkOverridable(pipeline: Pipeline, state: PipelineState, stageName: string, kind: ConditionKind): string | undefined {
  const refuse = (why: string): never => {
    throw new SteplineError(ErrorName.ControlRefused, `cannot override the ${ConditionLabel[kind]} of stage ${stageName}: ${why}`);
  };
  const stage = pipeline.stages.find((s) => s.name === stageName);
  if (!stage) refuse(`the pipeline ${pipeline.name} has no such stage (stages: ${pipeline.stages.map((s) => s.name).join(', ')})`);
  if (!stage?.[kind]?.rules) refuse(`the stage has no ${kind} condition with rules`);
  if (state.status !== ExecutionStatus.InProgress) refuse(`execution ${state.executionId} is not in progress (${state.status ?? 'not started'})`);
  const held = state.stages.find((s) => s.name === stageName)?.held;
  if (held?.condition !== kind)
    refuse(
      `execution ${state.executionId} is not waiting on it (stage ${stageName} is ${state.stages.find((s) => s.name === stageName)?.status ?? 'not reached'})`,
    );
  return held?.evaluation;
}

/** The check's answer when the condition was overridden: every rule passes, saying by whom. */
export function overriddenResult(payload: ConditionCheckPayload, override: ConditionOverride): ConditionCheckResult {
  const reason = `overridden by ${override.by} at ${override.at}`;
  return {
    status: CheckStatus.Pass,
    reason,
    overridden: override,
    rules: payload.rules.map((rule) => ({ rule: rule.name, provider: rule.provider, status: CheckStatus.Pass, reason })),
  };
}
