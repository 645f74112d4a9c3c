/**
 * Reading a Step Functions execution's history: the events (every page), core's normalized history
 * made from them, and the state data an execution had when it entered a stage. The CLI's AWS backend
 * (get-execution, retry-stage-execution, rollback-stage) and the conditions function (an automatic
 * ROLLBACK) read executions through this one module.
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
 */
import { paginateGetExecutionHistory, type SFNClient, type HistoryEvent as SfnHistoryEvent } from '@aws-sdk/client-sfn';
import { conditionCheckOutput, failureFromStateInput, gateStateName, type HistoryEvent } from '@stepline/core';

/** Reads events by id and finds, for any event, the state it happened in. */
export class HistoryIndex {
  private readonly byId = new Map<number, SfnHistoryEvent>();
  constructor(readonly events: readonly SfnHistoryEvent[]) {
    for (const e of events) if (e.id !== undefined) this.byId.set(e.id, e);
  }

  /** The state an event belongs to: the nearest StateEntered up its `previousEventId` chain. */
  stateOf(event: SfnHistoryEvent): string | undefined {
    let current: SfnHistoryEvent | undefined = event;
    for (let hops = 0; current && hops < 1000; hops++) {
      if (current.stateEnteredEventDetails?.name !== undefined) return current.stateEnteredEventDetails.name;
      current = current.previousEventId === undefined ? undefined : this.byId.get(current.previousEventId);
    }
    return undefined;
  }
}

/** A JSON text of the history (a state's input or output), parsed; undefined when absent or not JSON. */
export function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `arn:aws:states:r:a:stateMachine:M` and name N → `arn:aws:states:r:a:execution:M:N`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

export const eventTime = (e: SfnHistoryEvent) => (e.timestamp ?? new Date(0)).toISOString();

/** Every event of an execution, oldest first, with the states' inputs and outputs. */
export async function readHistory(sfn: SFNClient, executionArn: string): Promise<SfnHistoryEvent[]> {
  const events: SfnHistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client: sfn }, { executionArn, includeExecutionData: true, maxResults: 1000 })) {
    events.push(...(page.events ?? []));
  }
  return events;
}

/** GetExecutionHistory events → core's normalized history (entered, exited, failed). */
export function normalizeHistory(events: readonly SfnHistoryEvent[]): HistoryEvent[] {
  const index = new HistoryIndex(events);
  const out: HistoryEvent[] = [];
  for (const e of events) {
    const type = e.type ?? '';
    if (type.endsWith('StateEntered') && e.stateEnteredEventDetails?.name !== undefined) {
      out.push({ type: 'entered', state: e.stateEnteredEventDetails.name, at: eventTime(e), ...failureFromStateInput(e.stateEnteredEventDetails.input) });
    } else if (type.endsWith('StateExited') && e.stateExitedEventDetails?.name !== undefined) {
      // A condition's check Task keeps its answer under $.check: what list-rule-executions reads.
      const check = type === 'TaskStateExited' ? conditionCheckOutput(parseJson(e.stateExitedEventDetails.output)) : undefined;
      out.push({ type: 'exited', state: e.stateExitedEventDetails.name, at: eventTime(e), ...(check && { check }) });
    } else if (type === 'TaskFailed' || type === 'TaskTimedOut' || type === 'TaskStartFailed' || type === 'TaskSubmitFailed') {
      const state = index.stateOf(e);
      const details = e.taskFailedEventDetails ?? e.taskTimedOutEventDetails ?? e.taskStartFailedEventDetails ?? e.taskSubmitFailedEventDetails;
      if (state !== undefined)
        out.push({
          type: 'failed',
          state,
          at: eventTime(e),
          ...(details?.error !== undefined && { error: details.error }),
          ...(details?.cause !== undefined && { cause: details.cause }),
        });
    }
  }
  return out;
}

/**
 * The state data the execution had when it last entered the stage (the input of the stage's gate
 * state), parsed; undefined when it never entered it. A retry or a rollback resumes with it.
 */
export function stageEntryState(events: readonly SfnHistoryEvent[], stage: string): unknown {
  const gate = gateStateName(stage);
  const entered = [...events].reverse().find((e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name === gate);
  const input = entered?.stateEnteredEventDetails?.input;
  return input === undefined ? undefined : JSON.parse(input);
}
