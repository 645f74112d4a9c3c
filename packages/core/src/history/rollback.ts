/**
 * Rolling a stage back, as CodePipeline's RollbackStage: a new execution runs the stage alone with the
 * state (variables, action results and so artifacts) of the last execution that succeeded through
 * it. It enters through the machine's resume entry; its input's `rollback` ends it after the stage.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RollbackStage.html
 */
import type { StateMap } from '../compiler/context';
import { DefinitionError } from '../errors';
import type { ExecutionInput, ResumeInput } from '../execution/input';
import type { Pipeline } from '../model/schema';
import { type HistoryEvent, pipelineStateFrom } from './pipeline-state';

export interface RollbackCandidate {
  executionId: string;
  pipeline: Pipeline;
  stateMap: StateMap;
  events: readonly HistoryEvent[];
}

/** Why a stage cannot be rolled back in this pipeline, or undefined when it can. */
export function rollbackRefusal(pipeline: Pipeline, stage: string): string | undefined {
  const index = pipeline.stages.findIndex((s) => s.name === stage);
  if (index < 0) return `pipeline ${pipeline.name} has no stage ${stage} (stages: ${pipeline.stages.map((s) => s.name).join(', ')})`;
  if (pipeline.executionMode === 'PARALLEL')
    return 'a stage cannot be rolled back in PARALLEL execution mode (as in CodePipeline): executions do not take turns in it';
  if (index === 0) return `stage ${stage} is the source stage: there is nothing to roll back to`;
  return undefined;
}

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
export function rollbackInput(stage: string, targetExecution: string, entryState: unknown, failedExecution?: string): ResumeInput {
  const state = entryState as { input?: ExecutionInput; variables?: unknown; actions?: unknown } | undefined;
  if (!state?.input) throw new DefinitionError([{ path: '', message: `execution ${targetExecution} recorded no state at the entry of stage ${stage}` }]);
  const rollback = { stage, targetExecution, ...(failedExecution !== undefined && { failedExecution }) };
  return { resume: { stage, state: { ...state, input: { ...state.input, rollback } } } };
}
