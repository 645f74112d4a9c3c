/**
 * Answers about executions on this machine, from the SQLite history: the same answers for the CLI's
 * verbs and for `stepline serve`'s API.
 */
import { compilePipeline, type ExecutionDetail, type ExecutionSummary, type Pipeline, type PipelineState, pipelineStateFrom } from '@stepline/core';
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

/** A pipeline's state: its latest execution (or the one named), with disabled transitions and held executions. */
export function localPipelineState(store: HistoryStore, pipeline: Pipeline, executionId?: string): PipelineState {
  const execution = executionId !== undefined ? store.getExecution(executionId) : store.listExecutions(pipeline.name, 1)[0];
  return pipelineStateFrom({
    pipeline,
    stateMap: compilePipeline(pipeline).stateMap,
    ...(execution && { execution: { executionId: execution.id, status: execution.status, events: store.events(execution.id) } }),
    gates: store.gateState(pipeline.name),
  });
}

export function executionDetail(store: HistoryStore, pipeline: Pipeline, e: ExecutionRow): ExecutionDetail {
  const variables: Record<string, string> = {};
  for (const v of pipeline.variables) if (v.default !== undefined) variables[v.name] = v.default;
  Object.assign(variables, e.input.variables);
  const builds: ExecutionDetail['builds'] = {};
  for (const b of store.builds(e.id)) {
    builds[`${b.stage}.${b.action}`] = { buildId: b.buildId, ...(b.logFile !== undefined && { logLocation: b.logFile }), phases: b.phases, reports: b.reports };
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
