/**
 * Answers about executions on this machine, from the SQLite history: the same answers for the CLI's
 * verbs and for `stepline serve`'s API.
 */
import {
  buildKey,
  compilePipeline,
  DefinitionError,
  type ExecutionDetail,
  type ExecutionSummary,
  type Pipeline,
  type PipelineState,
  pipelineStateFrom,
  type RuleExecution,
  ruleExecutionsFrom,
  type StateMap,
} from '@stepline/core';
import type { ExecutionRow, HistoryStore } from './store/history-store';

export function executionSummary(e: ExecutionRow): ExecutionSummary {
  const commitId = e.commitId ?? e.input.source.commitId;
  const branch = e.branch ?? e.input.source.branchName;
  return {
    executionId: e.id,
    pipeline: e.pipeline,
    status: e.status,
    startedAt: e.startedAt,
    ...(e.endedAt !== undefined && { endedAt: e.endedAt }),
    trigger: e.triggerType,
    ...(commitId !== undefined && { commitId }),
    ...(branch !== undefined && { branch }),
  };
}

/**
 * The pipeline an execution ran and its state map: the ones stored with it. `current` (today's
 * definition) stands in only for an execution recorded before stepline kept them.
 */
export function executedMachine(e: ExecutionRow | undefined, current: Pipeline | undefined): { pipeline: Pipeline; stateMap: StateMap } {
  if (e?.machine) return { pipeline: e.machine.pipeline, stateMap: e.machine.stateMap };
  if (!current) throw new DefinitionError([{ path: '', message: `execution ${e?.id} does not record the pipeline it ran, and its definition is gone` }]);
  return { pipeline: current, stateMap: compilePipeline(current).stateMap };
}

/**
 * A pipeline's state: its latest execution (or the one named), shown as it ran, with disabled
 * transitions and held executions. `current`, today's definition, is what is shown when nothing ran.
 */
export function localPipelineState(store: HistoryStore, current: Pipeline, executionId?: string): PipelineState {
  const execution = executionId !== undefined ? store.getExecution(executionId) : store.listExecutions(current.name, 1)[0];
  return pipelineStateFrom({
    ...executedMachine(execution, current),
    ...(execution && { execution: { executionId: execution.id, status: execution.status, events: store.events(execution.id) } }),
    gates: store.gateState(current.name),
  });
}

/** Everything about one execution, read through the pipeline it ran (see {@link executedMachine}). */
export function executionDetail(store: HistoryStore, current: Pipeline | undefined, e: ExecutionRow): ExecutionDetail {
  const { pipeline } = executedMachine(e, current);
  const variables: Record<string, string> = {};
  for (const v of pipeline.variables) if (v.default !== undefined) variables[v.name] = v.default;
  Object.assign(variables, e.input.variables);
  const builds: ExecutionDetail['builds'] = {};
  for (const b of store.builds(e.id)) {
    builds[buildKey(b.stage, b.action, b.batch?.identifier)] = {
      buildId: b.buildId,
      status: b.status,
      ...(b.batch !== undefined && { batch: b.batch }),
      ...(b.logFile !== undefined && { logLocation: b.logFile }),
      phases: b.phases,
      reports: b.reports,
    };
  }
  return {
    ...executionSummary(e),
    ...(e.error !== undefined && { error: e.error }),
    ...(e.cause !== undefined && { cause: e.cause }),
    state: localPipelineState(store, pipeline, e.id),
    builds,
    approvals: store.approvals(e.id).map((a) => ({
      stage: a.stage,
      action: a.action,
      status: a.status,
      ...(a.decidedBy !== undefined && { decidedBy: a.decidedBy }),
      ...(a.comment !== undefined && { comment: a.comment }),
      ...(a.decidedAt !== undefined && { decidedAt: a.decidedAt }),
    })),
    artifacts: store.artifacts(e.id).map((a) => ({ name: a.name, location: a.dir, files: a.files })),
    variables,
  };
}

/**
 * The rule executions of a pipeline's executions on this machine (newest execution first), or of the
 * one named; each read through the pipeline its execution ran.
 */
export function localRuleExecutions(store: HistoryStore, current: Pipeline, executionId?: string): RuleExecution[] {
  const executions = executionId !== undefined ? [store.getExecution(executionId)].filter((e) => e !== undefined) : store.listExecutions(current.name);
  return executions.flatMap((e) =>
    ruleExecutionsFrom({ pipeline: executedMachine(e, current).pipeline, execution: { executionId: e.id, status: e.status, events: store.events(e.id) } }),
  );
}
