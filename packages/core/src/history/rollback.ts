/**
 * Rolling a stage back, as CodePipeline's RollbackStage: a new execution runs the stage alone with the
 * state (variables, action results and so artifacts) of the last execution that succeeded through
 * it. It enters through the machine's resume entry; its input's `rollback` ends it after the stage.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RollbackStage.html
 */
import type { StateMap } from '../compiler/context';
import { rollbackEndsName } from '../compiler/names';
import { DefinitionError } from '../errors';
import { type ExecutionInput, executionName, type ResumeInput, type TriggerType } from '../execution/input';
import type { Pipeline } from '../model/schema';
import { type HistoryEvent, pipelineStateFrom } from './pipeline-state';

export interface RollbackCandidate {
  executionId: string;
  pipeline: Pipeline;
  stateMap: StateMap;
  events: readonly HistoryEvent[];
}

/**
 * Why a stage cannot be rolled back in this pipeline, or undefined when it can. Given the state map of
 * the machine that would run the rollback, a stage that is not the last must have a ROLLBACK condition:
 * without one a rollback execution would go on to run the later stages too. Both runtimes refuse
 * with these words.
 */
export function rollbackRefusal(pipeline: Pipeline, stage: string, stateMap?: StateMap): string | undefined {
  const index = pipeline.stages.findIndex((s) => s.name === stage);
  if (index < 0) return `pipeline ${pipeline.name} has no stage ${stage} (stages: ${pipeline.stages.map((s) => s.name).join(', ')})`;
  if (pipeline.executionMode === 'PARALLEL')
    return 'a stage cannot be rolled back in PARALLEL execution mode (as in CodePipeline): executions do not take turns in it';
  if (index === 0) return `stage ${stage} is the source stage: there is nothing to roll back to`;
  if (stateMap && index < pipeline.stages.length - 1 && !stateMap[rollbackEndsName(stage)])
    return `stage ${stage} has no ROLLBACK condition, so a rollback of it would run the later stages too: add onFailure: { result: ROLLBACK } to it`;
  return undefined;
}

/** Why no execution can be rolled back to: the one named did not succeed through the stage, or none did. */
export function noRollbackTarget(pipeline: string, stage: string, targetExecution?: string): string {
  return targetExecution !== undefined
    ? `execution ${targetExecution} did not succeed through stage ${stage}: it cannot be rolled back to`
    : `no earlier execution of ${pipeline} succeeded through stage ${stage}: there is nothing to roll back to`;
}

/**
 * The name of the execution that rolls back a failed one: fixed by the failed execution, so a retried
 * `roll back` Task finds the rollback it started instead of starting a second.
 */
export const rollbackExecutionName = (failedExecution: string) => executionName(`${failedExecution}-rollback`);

/** Whether an execution's history shows the stage succeeded (read through the execution's own state map). */
export function succeededThrough(candidate: RollbackCandidate, stage: string): boolean {
  const state = pipelineStateFrom({
    pipeline: candidate.pipeline,
    stateMap: candidate.stateMap,
    execution: { executionId: candidate.executionId, status: 'Succeeded', events: candidate.events },
  });
  return state.stages.find((s) => s.name === stage)?.status === 'Succeeded';
}

/** The newest candidate (candidates come newest first) that succeeded through the stage. */
export function rollbackTarget(candidates: Iterable<RollbackCandidate>, stage: string): RollbackCandidate | undefined {
  for (const candidate of candidates) if (succeededThrough(candidate, stage)) return candidate;
  return undefined;
}

/** The input of a rollback execution, from the state data the target execution had at the stage's entry. */
export function rollbackInput(
  stage: string,
  targetExecution: string,
  entryState: unknown,
  failedExecution?: string,
  trigger?: { type: typeof TriggerType.ManualRollback | typeof TriggerType.AutomatedRollback; actor?: string | undefined },
): ResumeInput {
  const state = entryState as { input?: ExecutionInput; variables?: unknown; actions?: unknown } | undefined;
  if (!state?.input) throw new DefinitionError([{ path: '', message: `execution ${targetExecution} recorded no state at the entry of stage ${stage}` }]);
  const rollback = { stage, targetExecution, ...(failedExecution !== undefined && { failedExecution }) };
  const input: ExecutionInput = {
    ...state.input,
    rollback,
    ...(trigger && { trigger: { type: trigger.type, ...(trigger.actor !== undefined && { actor: trigger.actor }) } }),
  };
  return { resume: { stage, state: { ...state, input } } };
}
