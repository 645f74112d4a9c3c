/**
 * Runs a compiled state machine on this machine with aws-local-stepfunctions, every Task bound to a
 * local handler. The engine sends an unbound Task to real AWS Lambda, so binding is checked first and
 * a missing handler is an error, never a network call.
 */
import './with-resolvers';
import { SfnExecutionStatus, type State, type StateMachineDefinition } from '@stepline/core';
import type { StateMachine } from 'aws-local-stepfunctions';

// The engine bundles AWS SDK clients and takes a noticeable part of a second to import: load it when
// an execution starts, not when the CLI starts.
let engine: Promise<typeof import('aws-local-stepfunctions')> | undefined;
const loadEngine = () => {
  engine ??= import('aws-local-stepfunctions');
  return engine;
};

export type TaskHandler = (input: unknown) => Promise<unknown>;
/** An event of the engine's log (StateEntered, StateExited, StateFailed, …); the library does not export the type. */
export type EngineEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** How an execution ended, in Step Functions' words (core's `pipelineExecutionStatus` says it in the pipeline's). */
type EngineStatus =
  | typeof SfnExecutionStatus.Succeeded
  | typeof SfnExecutionStatus.Failed
  | typeof SfnExecutionStatus.Aborted
  | typeof SfnExecutionStatus.TimedOut;

export interface ExecuteOptions {
  input: unknown;
  /** `$$.Execution.Name`. */
  executionName: string;
  /** `$$.StateMachine.Id`: an AWS machine's ARN when a test runs it here with the AWS functions' code. @default local */
  stateMachineId?: string;
  handlers: Record<string, TaskHandler>;
  /** Wait state name → milliseconds, to shorten bakes in tests. */
  waitTimeOverrides?: Record<string, number>;
  /** Every engine event, in order; called for events that arrive after the result too. */
  onEvent?: (event: EngineEvent) => void;
}

export interface ExecutionOutcome {
  status: EngineStatus;
  output?: unknown;
  error?: string;
  cause?: string;
}

export interface RunningExecution {
  outcome: Promise<ExecutionOutcome>;
  abort(): void;
}

/** Names of every Task state, nested ones included. */
export function taskStateNames(machine: { States: Record<string, State> }): string[] {
  return Object.entries(machine.States).flatMap(([name, state]) => {
    if (state.Type === 'Task') return [name];
    if (state.Type === 'Parallel') return state.Branches.flatMap(taskStateNames);
    if (state.Type === 'Map') return taskStateNames(state.ItemProcessor);
    return [];
  });
}

export function execute(definition: StateMachineDefinition, options: ExecuteOptions): RunningExecution {
  const unbound = taskStateNames(definition).filter((name) => !options.handlers[name]);
  if (unbound.length > 0) throw new Error(`no local handler for Task state(s): ${unbound.join(', ')}`);
  const local = clampTimeouts(structuredClone(definition));
  let aborted = false;
  let abortRun: (() => void) | undefined;

  const outcome = loadEngine().then(async (lib): Promise<ExecutionOutcome> => {
    if (aborted) return { status: SfnExecutionStatus.Aborted };
    const machine: StateMachine = new lib.StateMachine(local as never, {
      validationOptions: { noValidate: true },
    });
    const run = machine.run(options.input as never, {
      overrides: { taskResourceLocalHandlers: options.handlers as never, waitTimeOverrides: options.waitTimeOverrides ?? {} },
      // One token for the whole run: local handlers that wait for a decision mint their own.
      // `$$.StateMachine.Id` is read by the rollback Task's payload (the AWS function starts the rollback on that machine).
      context: {
        Execution: { Name: options.executionName, Input: options.input as never },
        StateMachine: { Id: options.stateMachineId ?? 'local' },
        Task: { Token: 'local' },
      },
    });
    abortRun = () => run.abort();
    // Some events arrive after the result: drain them all before answering.
    const drained = (async () => {
      for await (const event of run.eventLogs) options.onEvent?.(event);
    })().catch(() => undefined);
    const result = await run.result.then(
      (output): ExecutionOutcome => ({ status: SfnExecutionStatus.Succeeded, output }),
      (error: unknown): ExecutionOutcome => {
        if (error instanceof lib.ExecutionAbortedError) return { status: SfnExecutionStatus.Aborted };
        if (error instanceof lib.ExecutionTimeoutError)
          return { status: SfnExecutionStatus.TimedOut, error: 'States.Timeout', cause: 'the execution timed out' };
        if (error instanceof lib.ExecutionError && error.cause instanceof Error)
          return { status: SfnExecutionStatus.Failed, error: error.cause.name, cause: error.cause.message };
        const e = error as Error;
        return { status: SfnExecutionStatus.Failed, error: e.name, cause: e.message };
      },
    );
    await drained;
    return result;
  });
  return {
    outcome,
    abort: () => {
      aborted = true;
      abortRun?.();
    },
  };
}

/** Node's timers hold at most 2^31-1 ms (24.8 days); a longer timeout would fire at once instead. */
const MAX_LOCAL_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function clampTimeouts<T extends { States: Record<string, State>; TimeoutSeconds?: number }>(machine: T): T {
  if (machine.TimeoutSeconds !== undefined) machine.TimeoutSeconds = Math.min(machine.TimeoutSeconds, MAX_LOCAL_TIMEOUT_SECONDS);
  for (const state of Object.values(machine.States)) {
    if (state.Type === 'Task') state.TimeoutSeconds = Math.min(state.TimeoutSeconds, MAX_LOCAL_TIMEOUT_SECONDS);
    if (state.Type === 'Parallel') for (const branch of state.Branches) clampTimeouts(branch);
    if (state.Type === 'Map') clampTimeouts(state.ItemProcessor);
  }
  return machine;
}
