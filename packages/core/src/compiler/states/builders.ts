/**
 * One small builder per state type. Each renders a state's JSON with its keys in a stable order,
 * so compiled definitions diff cleanly between versions.
 */
import type {
  CatchRule,
  ChoiceRule,
  ChoiceState,
  FailState,
  JsonObject,
  JsonValue,
  MapState,
  ParallelState,
  PassState,
  RetryRule,
  SubMachine,
  SucceedState,
  TaskState,
  Transition,
  WaitState,
} from './types';

/** `Next` when there is a following state, `End` otherwise. */
export const transition = (next: string | undefined): Transition => (next === undefined ? { End: true } : { Next: next });

export interface PassOptions {
  comment?: string;
  parameters?: JsonObject;
  result?: JsonValue;
  resultPath?: string | null;
  next?: string;
}

export function pass(o: PassOptions): PassState {
  return {
    Type: 'Pass',
    ...(o.comment && { Comment: o.comment }),
    ...(o.parameters && { Parameters: o.parameters }),
    ...(o.result !== undefined && { Result: o.result }),
    ...(o.resultPath !== undefined && { ResultPath: o.resultPath }),
    ...transition(o.next),
  };
}

export interface TaskOptions {
  comment?: string;
  resource: string;
  /** The part of the state data the Task takes as its whole input (its API call's request when it has no Parameters). */
  inputPath?: string;
  parameters?: JsonObject;
  resultSelector?: JsonObject;
  resultPath?: string | null;
  timeoutSeconds: number;
  retry?: RetryRule[];
  catch?: CatchRule[];
  next?: string;
}

export function task(o: TaskOptions): TaskState {
  return {
    Type: 'Task',
    ...(o.comment && { Comment: o.comment }),
    Resource: o.resource,
    ...(o.inputPath && { InputPath: o.inputPath }),
    ...(o.parameters && { Parameters: o.parameters }),
    ...(o.resultSelector && { ResultSelector: o.resultSelector }),
    ...(o.resultPath !== undefined && { ResultPath: o.resultPath }),
    TimeoutSeconds: o.timeoutSeconds,
    ...(o.retry?.length && { Retry: o.retry }),
    ...(o.catch?.length && { Catch: o.catch }),
    ...transition(o.next),
  };
}

export interface ParallelOptions {
  comment?: string;
  branches: SubMachine[];
  resultSelector?: JsonObject;
  resultPath?: string | null;
  catch?: CatchRule[];
  next?: string;
}

export function parallel(o: ParallelOptions): ParallelState {
  return {
    Type: 'Parallel',
    ...(o.comment && { Comment: o.comment }),
    Branches: o.branches,
    ...(o.resultSelector && { ResultSelector: o.resultSelector }),
    ...(o.resultPath !== undefined && { ResultPath: o.resultPath }),
    ...(o.catch?.length && { Catch: o.catch }),
    ...transition(o.next),
  };
}

export interface MapOptions {
  comment?: string;
  itemsPath: string;
  itemSelector?: JsonObject;
  processor: SubMachine;
  maxConcurrency?: number;
  resultPath?: string | null;
  catch?: CatchRule[];
  next?: string;
}

export function map(o: MapOptions): MapState {
  return {
    Type: 'Map',
    ...(o.comment && { Comment: o.comment }),
    ItemsPath: o.itemsPath,
    ...(o.itemSelector && { ItemSelector: o.itemSelector }),
    ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, ...o.processor },
    ...(o.maxConcurrency !== undefined && { MaxConcurrency: o.maxConcurrency }),
    ...(o.resultPath !== undefined && { ResultPath: o.resultPath }),
    ...(o.catch?.length && { Catch: o.catch }),
    ...transition(o.next),
  };
}

export function choice(choices: ChoiceRule[], defaultNext: string, comment?: string): ChoiceState {
  return { Type: 'Choice', ...(comment && { Comment: comment }), Choices: choices, Default: defaultNext };
}

export function wait(o: { seconds?: number; secondsPath?: string; next?: string; comment?: string }): WaitState {
  return {
    Type: 'Wait',
    ...(o.comment && { Comment: o.comment }),
    ...(o.seconds !== undefined && { Seconds: o.seconds }),
    ...(o.secondsPath !== undefined && { SecondsPath: o.secondsPath }),
    ...transition(o.next),
  };
}

export const succeed = (comment?: string): SucceedState => ({ Type: 'Succeed', ...(comment && { Comment: comment }) });

export function fail(o: { error?: string; errorPath?: string; cause?: string; causePath?: string; comment?: string }): FailState {
  return {
    Type: 'Fail',
    ...(o.comment && { Comment: o.comment }),
    ...(o.error !== undefined && { Error: o.error }),
    ...(o.errorPath !== undefined && { ErrorPath: o.errorPath }),
    ...(o.cause !== undefined && { Cause: o.cause }),
    ...(o.causePath !== undefined && { CausePath: o.causePath }),
  };
}
