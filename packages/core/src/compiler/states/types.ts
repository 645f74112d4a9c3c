/**
 * Amazon States Language, JSONPath flavour only: the subset stepline emits.
 * @see https://states-language.net/spec.html
 */

/** Built-in error names of the States Language. */
export const StatesError = {
  All: 'States.ALL',
  Timeout: 'States.Timeout',
  TaskFailed: 'States.TaskFailed',
  Runtime: 'States.Runtime',
} as const;

export interface RetryRule {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

export interface CatchRule {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

/** A state's way out: `Next` or `End`, exactly one. */
export type Transition = { Next: string; End?: never } | { End: true; Next?: never };

interface Common {
  Comment?: string;
}

interface DataFlow {
  InputPath?: string | null;
  OutputPath?: string | null;
}

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export type PassState = Common &
  DataFlow &
  Transition & {
    Type: 'Pass';
    Parameters?: JsonObject;
    Result?: JsonValue;
    ResultPath?: string | null;
  };

export type TaskState = Common &
  DataFlow &
  Transition & {
    Type: 'Task';
    Resource: string;
    Parameters?: JsonObject;
    ResultSelector?: JsonObject;
    ResultPath?: string | null;
    /** Always written: the local engine defaults to 60 s and AWS to forever, neither is wanted. */
    TimeoutSeconds: number;
    HeartbeatSeconds?: number;
    Retry?: RetryRule[];
    Catch?: CatchRule[];
  };

export interface SubMachine {
  StartAt: string;
  States: Record<string, State>;
}

export type ParallelState = Common &
  DataFlow &
  Transition & {
    Type: 'Parallel';
    Branches: SubMachine[];
    ResultSelector?: JsonObject;
    ResultPath?: string | null;
    Retry?: RetryRule[];
    Catch?: CatchRule[];
  };

export type MapState = Common &
  DataFlow &
  Transition & {
    Type: 'Map';
    ItemsPath: string;
    ItemSelector?: JsonObject;
    ItemProcessor: SubMachine & { ProcessorConfig?: { Mode: 'INLINE' } };
    MaxConcurrency?: number;
    ResultPath?: string | null;
    Retry?: RetryRule[];
    Catch?: CatchRule[];
  };

export interface ChoiceRule {
  Variable: string;
  StringEquals?: string;
  BooleanEquals?: boolean;
  IsPresent?: boolean;
  StringMatches?: string;
  NumericGreaterThanEquals?: number;
  Next: string;
}

export type ChoiceState = Common &
  DataFlow & {
    Type: 'Choice';
    Choices: ChoiceRule[];
    Default?: string;
  };

export type WaitState = Common &
  DataFlow &
  Transition & {
    Type: 'Wait';
    Seconds?: number;
    SecondsPath?: string;
  };

export type SucceedState = Common & DataFlow & { Type: 'Succeed' };

export type FailState = Common & {
  Type: 'Fail';
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
};

export type State = PassState | TaskState | ParallelState | MapState | ChoiceState | WaitState | SucceedState | FailState;

export interface StateMachineDefinition extends SubMachine {
  Comment?: string;
  QueryLanguage?: 'JSONPath';
  TimeoutSeconds?: number;
}
