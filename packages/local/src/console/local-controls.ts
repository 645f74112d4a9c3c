/**
 * What steers an execution on this machine, with the rules that say when it may: stop, decide an
 * approval, disable or enable a stage's transition, let a waiting stage condition through. The CLI's verbs and the console's buttons both
 * come here, so both refuse the same things with the same words.
 */
import { ApprovalDecision, type ConditionOverride, checkOverridable, ErrorName, overridableCondition, type Pipeline, SteplineError } from '@stepline/core';
import type { LocalApprovals } from '../approvals/local-approvals';
import { executedMachine, localPipelineState } from '../queries';
import type { HistoryStore } from '../store/history-store';

/** A request the history does not allow (nothing to stop, no approval waiting); its message is for people. */
export class ControlRefusedError extends SteplineError {
  constructor(
    message: string,
    readonly status: 400 | 403 | 404 | 409 = 409,
  ) {
    super(ErrorName.ControlRefused, message);
  }
}

export function stopExecution(store: HistoryStore, executionId: string, abandon: boolean): void {
  const e = store.getExecution(executionId);
  if (!e) throw new ControlRefusedError(`no execution ${executionId} on this machine (see stepline list-executions)`, 404);
  if (e.status !== 'InProgress' && e.status !== 'Stopping') throw new ControlRefusedError(`execution ${executionId} is ${e.status}: nothing to stop`);
  store.requestStop(executionId, abandon ? 'abandon' : 'stop');
}

export interface DecisionRequest {
  approve: boolean;
  /** The stage whose approval is decided; needed only when several wait. */
  stage?: string;
  approver: string;
  comment: string;
}

export function decideApproval(approvals: LocalApprovals, executionId: string, d: DecisionRequest): void {
  const store = approvals.store;
  const execution = store.getExecution(executionId);
  if (!execution) throw new ControlRefusedError(`no execution ${executionId} on this machine (see stepline list-executions)`, 404);
  if (execution.status !== 'InProgress') throw new ControlRefusedError(`execution ${executionId} is ${execution.status}: nothing waits for a decision`);
  const pending = store.approvals(executionId).filter((a) => a.status === 'Pending' && (d.stage === undefined || a.stage === d.stage));
  if (pending.length === 0) throw new ControlRefusedError(`execution ${executionId} has no pending approval${d.stage ? ` in stage ${d.stage}` : ''}`);
  if (pending.length > 1)
    throw new ControlRefusedError(`several approvals wait (stages ${pending.map((a) => a.stage).join(', ')}): name one with --stage`, 400);
  const [approval] = pending as [(typeof pending)[number]];
  if (!approvals.allowed(approval, d.approver))
    throw new ControlRefusedError(`${d.approver} may not decide this approval (allowed: ${approval.approvers?.emailDomains?.join(', ')})`, 403);
  const result = approvals.decide(approval.id, d.approve ? ApprovalDecision.Approve : ApprovalDecision.Reject, d.approver, d.comment);
  if (!result.decided) throw new ControlRefusedError(`the approval was already ${result.approval?.status.toLowerCase() ?? 'closed'}`);
}

export type TransitionChange = { enabled: true } | { enabled: false; reason: string; by: string };

export function setStageTransition(store: HistoryStore, pipeline: Pipeline, stage: string, change: TransitionChange): void {
  if (!pipeline.stages.some((s) => s.name === stage))
    throw new ControlRefusedError(`pipeline ${pipeline.name} has no stage ${stage} (stages: ${pipeline.stages.map((s) => s.name).join(', ')})`, 400);
  if (change.enabled) {
    store.applyGate(pipeline.name, { type: 'enable', stage }, pipeline.executionMode);
    return;
  }
  if (pipeline.stages[0]?.name === stage) throw new ControlRefusedError(`stage ${stage} is the first stage: it has no inbound transition to disable`, 400);
  store.applyGate(pipeline.name, { type: 'disable', stage, reason: change.reason, at: new Date().toISOString(), by: change.by });
}

/**
 * Lets a stage's waiting condition (BEFORE_ENTRY or ON_SUCCESS) through by hand: the record is what the
 * check Task reads at its next check. Refused, saying why, unless the execution waits on that condition now.
 */
export function overrideStageCondition(
  store: HistoryStore,
  current: Pipeline,
  request: { executionId: string; stage: string; conditionType: string; by: string; at: string },
): ConditionOverride {
  const execution = store.getExecution(request.executionId);
  if (!execution) throw new ControlRefusedError(`no execution ${request.executionId} on this machine (see stepline list-executions)`, 404);
  // Core's refusals, with the status the console answers them with.
  const waiting = (() => {
    try {
      const condition = overridableCondition(request.conditionType);
      const pipeline = executedMachine(execution, current).pipeline;
      const evaluation = checkOverridable(pipeline, localPipelineState(store, current, execution.id), request.stage, condition);
      return { executionId: execution.id, stage: request.stage, condition, evaluation };
    } catch (error) {
      if (error instanceof SteplineError && error.name === ErrorName.ControlRefused) throw new ControlRefusedError(error.message);
      throw error;
    }
  })();
  const override = { by: request.by, at: request.at };
  if (!store.overrideCondition(waiting, override)) {
    const earlier = store.conditionOverride(waiting);
    throw new ControlRefusedError(`the condition was already overridden by ${earlier?.by} at ${earlier?.at}`);
  }
  return override;
}
