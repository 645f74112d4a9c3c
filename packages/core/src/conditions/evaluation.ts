/**
 * One evaluation of a stage condition: what an override is made for (OverrideStageCondition applies to
 * the evaluation under way, not to later ones) and what a Commands rule's build belongs to.
 *
 * The check Task sends the run of the execution it is in (`$$.Execution.StartTime`). Within one run a
 * condition is evaluated once: a stage RETRY goes back to the stage's actions, not to its entry, and
 * an onFailure condition is checked at the first failure only. Each run has its own start: on one
 * machine retry-stage-execution runs the same execution again from the stage's entry, on AWS a retry
 * or a rollback is an execution of its own. A Task retried by Step Functions keeps its run.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_OverrideStageCondition.html
 */
import { createHash } from 'node:crypto';
import type { ConditionKind } from '../compiler/names';
import type { ConditionCheckPayload } from './check';

const digest = (parts: readonly string[], length: number) => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, length);

/**
 * The evaluation a check belongs to, short enough for an S3 key and a SQLite key; undefined for a
 * machine compiled before checks sent their run (its overrides keep the older, per-execution key).
 */
export function conditionEvaluation(payload: Pick<ConditionCheckPayload, 'executionId' | 'stage' | 'condition' | 'run'>): string | undefined {
  if (payload.run === undefined) return undefined;
  return digest([payload.executionId, payload.run, payload.stage, payload.condition], 16);
}

/**
 * StartBuild's `idempotencyToken` for a Commands rule's build in one evaluation: a check retried by
 * Step Functions (or by Lambda) sends the same one and gets the build already started instead of a
 * second. CodeBuild honours a token for 5 minutes with the same parameters; the build also carries it
 * in its environment (`RULE_BUILD_TOKEN_VARIABLE`) so that a later retry finds it among the project's builds.
 * @see https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html
 */
export function ruleBuildToken(
  payload: Pick<ConditionCheckPayload, 'pipeline' | 'executionId' | 'stage' | 'run'> & { condition: ConditionKind },
  rule: string,
): string {
  return digest([payload.pipeline, payload.executionId, payload.run ?? '', payload.stage, payload.condition, rule], 64);
}

/** The environment variable a Commands rule's build carries its token in. */
export const RULE_BUILD_TOKEN_VARIABLE = 'STEPLINE_RULE_BUILD_TOKEN';
