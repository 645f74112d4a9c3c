/**
 * Execution history → pipeline state: stages, their actions, each with a status and its last change,
 * like `aws codepipeline get-pipeline-state`. Both runtimes feed it the same normalized events (the
 * local engine's event log, or Step Functions' GetExecutionHistory), read through the compiler's state
 * map, so a pipeline's state is computed in this one place.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineState.html
 */
import type { StateMap } from '../compiler/context';
import { type ConditionKind, ConditionLabel, conditionWaitName } from '../compiler/names';
import type { ConditionCheckResult } from '../conditions/check';
import { type GateState, heldExecutions } from '../gates/gates';
import type { ActionKind, Pipeline } from '../model/schema';
import { ActionStatus, ExecutionStatus, StageStatus } from './execution-status';

/** One event of an execution's history, whichever runtime ran it. */
export interface HistoryEvent {
  type: 'entered' | 'exited' | 'failed';
  state: string;
  /** ISO 8601. */
  at: string;
  /** For a failure state: the error and cause it records. */
  error?: string;
  cause?: string;
  /** When a condition's check Task exited: its answer (read by `ruleExecutionsFrom`). */
  check?: ConditionCheckResult;
}

export interface ActionState {
  name: string;
  kind: ActionKind;
  status?: ActionStatus;
  lastStatusChange?: string;
  error?: { code: string; message: string };
}

export interface StageState {
  name: string;
  status?: StageStatus;
  /** The inbound transition; `enabled: false` while disabled, with the reason given. */
  inboundTransition: { enabled: boolean; reason?: string; disabledAt?: string };
  actions: ActionState[];
  /** Set while the stage's entry holds this execution. */
  held?: { since: string; reason: string; condition?: ConditionKind; evaluation?: string };
  /** Set once the stage retried itself after a failure (onFailure RETRY), as CodePipeline's RetryStageMetadata. */
  retryStageMetadata?: { autoStageRetryAttempt: number; latestRetryTrigger: 'AutomatedStageRetry'; retriedAt: string };
}

export interface PipelineState {
  pipeline: string;
  executionId?: string;
  status?: ExecutionStatus;
  stages: StageState[];
  updated?: string;
}

export interface PipelineStateInput {
  pipeline: Pipeline;
  stateMap: StateMap;
  /** The execution to show; absent when the pipeline never ran. */
  execution?: { executionId: string; status: ExecutionStatus; events: readonly HistoryEvent[] };
  /** Disabled transitions and held executions, from the gate state. */
  gates?: GateState;
}

export function pipelineStateFrom(input: PipelineStateInput): PipelineState {
  const { pipeline, stateMap, execution, gates } = input;
  const stages: StageState[] = pipeline.stages.map((stage) => {
    const disabled = gates?.disabled[stage.name];
    return {
      name: stage.name,
      inboundTransition: disabled ? { enabled: false, reason: disabled.reason, disabledAt: disabled.disabledAt } : { enabled: true },
      actions: stage.actions.map((a) => ({ name: a.name, kind: a.kind })),
    };
  });
  if (!execution) return { pipeline: pipeline.name, stages };

  const stageByName = new Map(stages.map((s) => [s.name, s]));
  const gateEntered = new Map<string, string>();
  const gateLeft = new Set<string>();
  const skipped = new Set<string>();
  /** Stage → the condition wait it is in (entered and not left). */
  const conditionWait = new Map<string, { since: string; condition: ConditionKind; evaluation: string | undefined }>();
  const lastEvaluation = new Map<string, string | undefined>();
  let updated: string | undefined;

  for (const event of execution.events) {
    const info = stateMap[event.state];
    if (!info?.stage) continue;
    updated = event.at;
    const stage = stageByName.get(info.stage);
    if (!stage) continue;
    if (info.role === 'gate') {
      if (event.type === 'entered') {
        gateEntered.set(stage.name, event.at);
        gateLeft.delete(stage.name);
        // Entered again: a retry of this stage, whose earlier failure no longer describes it.
        delete stage.status;
      } else gateLeft.add(stage.name);
      skipped.delete(stage.name);
      continue;
    }
    if (info.role === 'skip') {
      skipped.add(stage.name);
      continue;
    }
    if (info.role === 'retry' && info.action === undefined) {
      if (event.type === 'entered') {
        const attempt = (stage.retryStageMetadata?.autoStageRetryAttempt ?? 0) + 1;
        stage.retryStageMetadata = { autoStageRetryAttempt: attempt, latestRetryTrigger: 'AutomatedStageRetry', retriedAt: event.at };
      }
      continue;
    }
    if (info.role === 'condition') {
      if (event.type === 'entered' && info.waiting)
        conditionWait.set(stage.name, { since: event.at, condition: waitedCondition(stage.name, event.state), evaluation: lastEvaluation.get(stage.name) });
      else conditionWait.delete(stage.name);
      // The check that answered WAIT says which evaluation of the condition waits (what an override is for).
      if (event.check) lastEvaluation.set(stage.name, event.check.evaluation);
      continue;
    }
    const action = info.action === undefined ? undefined : stage.actions.find((a) => a.name === info.action);
    if (info.role === 'failure') {
      if (event.type !== 'entered') continue;
      const error = { code: event.error ?? 'Error', message: event.cause ?? '' };
      if (action && action.status !== ActionStatus.Failed) Object.assign(action, { status: ActionStatus.Failed, lastStatusChange: event.at, error });
      if (!action) stage.status = StageStatus.Failed;
      continue;
    }
    if (!action || (info.role !== 'action' && info.role !== 'step')) continue;
    // An action's main state is entered once per attempt: entering it again is a retry of its stage.
    if (event.type === 'entered' && (action.status === undefined || info.role === 'action')) {
      Object.assign(action, { status: ActionStatus.InProgress, lastStatusChange: event.at });
      delete action.error;
    }
    if (event.type === 'exited' && info.final) Object.assign(action, { status: ActionStatus.Succeeded, lastStatusChange: event.at });
  }

  const stopped =
    execution.status === ExecutionStatus.Stopped || execution.status === ExecutionStatus.Stopping || execution.status === ExecutionStatus.Superseded;
  for (const stage of stages) {
    for (const action of stage.actions) {
      if (stopped && action.status === ActionStatus.InProgress) action.status = ActionStatus.Abandoned;
    }
    const statuses = stage.actions.map((a) => a.status);
    const waitingOn = conditionWait.get(stage.name);
    if (skipped.has(stage.name)) stage.status = StageStatus.Skipped;
    else if (waitingOn && !stopped && execution.status === ExecutionStatus.InProgress) {
      stage.status = statuses.some((s) => s !== undefined) ? StageStatus.InProgress : StageStatus.Waiting;
      const condition = waitingOn.condition;
      stage.held = {
        since: waitingOn.since,
        reason: conditionReason(pipeline, stage.name, condition),
        condition,
        ...(waitingOn.evaluation !== undefined && { evaluation: waitingOn.evaluation }),
      };
    } else if (stage.status === StageStatus.Failed) {
      // A gate that failed the execution (superseded, timed out) already says so.
    } else if (statuses.includes(ActionStatus.Failed)) stage.status = StageStatus.Failed;
    else if (statuses.includes(ActionStatus.Abandoned)) stage.status = StageStatus.Stopped;
    else if (statuses.length > 0 && statuses.every((s) => s === ActionStatus.Succeeded)) stage.status = StageStatus.Succeeded;
    else if (statuses.some((s) => s !== undefined)) stage.status = StageStatus.InProgress;
    else if (gateEntered.has(stage.name) && !gateLeft.has(stage.name)) {
      const held = gates ? heldExecutions(gates).find((h) => h.stage === stage.name && h.executionId === execution.executionId) : undefined;
      stage.status = stopped ? StageStatus.Stopped : StageStatus.Waiting;
      stage.held = { since: held?.since ?? gateEntered.get(stage.name) ?? '', reason: held?.reason ?? 'waiting to enter' };
    }
  }
  return { pipeline: pipeline.name, executionId: execution.executionId, status: execution.status, stages, ...(updated !== undefined && { updated }) };
}

/** The condition whose Wait state this is. */
function waitedCondition(stageName: string, waitState: string): ConditionKind {
  return (Object.keys(ConditionLabel) as ConditionKind[]).find((kind) => conditionWaitName(stageName, kind) === waitState) ?? 'beforeEntry';
}

/** Why a stage waits on a condition: the condition and its rules, from the definition the execution ran. */
function conditionReason(pipeline: Pipeline, stageName: string, kind: ConditionKind): string {
  const stage = pipeline.stages.find((s) => s.name === stageName);
  const rules = stage?.[kind]?.rules?.map((r) => `${r.name} (${r.provider})`) ?? [];
  return `waiting on its ${kind} condition: rule${rules.length === 1 ? '' : 's'} ${rules.join(', ')}`;
}

/**
 * The stage a failed or stopped execution is retried from (retry-stage-execution): the stage of the
 * last failure recorded, else the last stage it entered.
 */
export function stageToRetry(stateMap: StateMap, events: readonly HistoryEvent[]): string | undefined {
  let entered: string | undefined;
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i] as HistoryEvent;
    const info = stateMap[event.state];
    if (!info?.stage) continue;
    if (info.role === 'failure' && event.type === 'entered') return info.stage;
    entered ??= event.type === 'entered' ? info.stage : undefined;
  }
  return entered;
}
