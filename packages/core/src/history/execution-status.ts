/**
 * Statuses: Step Functions' (what either runtime's engine reports) and CodePipeline's (what stepline
 * shows, for executions, stages and actions), and the one rule from the first to the second. Both runtimes use it, so a stopped,
 * superseded or timed-out execution reads alike on one machine and on AWS.
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecution.html
 */
import { ErrorName } from '../errors';
import { named } from '../named';
import { readableCause } from './failure-cause';

/** CodePipeline's pipeline execution statuses, plus what stepline's runtimes report. */
export const ExecutionStatus = named('InProgress', 'Succeeded', 'Failed', 'Stopped', 'Stopping', 'Superseded');
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

/** An action's status in a pipeline's state, as `get-pipeline-state` shows it. */
export const ActionStatus = named('InProgress', 'Succeeded', 'Failed', 'Abandoned');
export type ActionStatus = (typeof ActionStatus)[keyof typeof ActionStatus];

/**
 * A stage's status in a pipeline's state. `Waiting`: held at its entry (a disabled transition, a queue,
 * an older execution in the stage, or its entry conditions). `Skipped`: its entry condition said SKIP.
 */
export const StageStatus = named('InProgress', 'Succeeded', 'Failed', 'Stopped', 'Waiting', 'Skipped');
export type StageStatus = (typeof StageStatus)[keyof typeof StageStatus];

/** Step Functions' execution statuses (DescribeExecution, the status-change event, the local engine's outcome). */
export const SfnExecutionStatus = {
  Running: 'RUNNING',
  Succeeded: 'SUCCEEDED',
  Failed: 'FAILED',
  TimedOut: 'TIMED_OUT',
  Aborted: 'ABORTED',
  PendingRedrive: 'PENDING_REDRIVE',
} as const;
export type SfnExecutionStatus = (typeof SfnExecutionStatus)[keyof typeof SfnExecutionStatus];

/** Statuses after which an execution holds nothing. */
export const TERMINAL_SFN_STATUSES: readonly SfnExecutionStatus[] = [
  SfnExecutionStatus.Succeeded,
  SfnExecutionStatus.Failed,
  SfnExecutionStatus.TimedOut,
  SfnExecutionStatus.Aborted,
];

export interface ExecutionStatusContext {
  /** The error the execution ended with (DescribeExecution's `error`). */
  error?: string;
  /** A stop was asked for (on one machine: `stop-pipeline-execution` while actions finish). */
  stopRequested?: boolean;
}

/**
 * Step Functions' status → the pipeline's. A success is a success even when a stop came too late; an
 * abort, a stop asked for, or a failure with `Stepline.Stopped` is Stopped; a failure with
 * `Stepline.Superseded` is Superseded (CodePipeline's SUPERSEDED mode); a timeout is a failure; an
 * execution still running (or waiting for a redrive) is in progress, or stopping once a stop was asked.
 */
export function pipelineExecutionStatus(status: string | undefined, context: ExecutionStatusContext = {}): ExecutionStatus {
  switch (status) {
    case SfnExecutionStatus.Succeeded:
      return ExecutionStatus.Succeeded;
    case SfnExecutionStatus.Aborted:
      return ExecutionStatus.Stopped;
    case SfnExecutionStatus.Failed:
    case SfnExecutionStatus.TimedOut:
      if (context.stopRequested || context.error === ErrorName.Stopped) return ExecutionStatus.Stopped;
      return context.error === ErrorName.Superseded ? ExecutionStatus.Superseded : ExecutionStatus.Failed;
    default:
      return context.stopRequested ? ExecutionStatus.Stopping : ExecutionStatus.InProgress;
  }
}

/** An error and its cause, as a Catch records them (`{ Error, Cause }`). */
export interface RecordedFailure {
  error?: string;
  cause?: string;
}

/**
 * The failure a failure state records: the compiler's Catch blocks put the caught error under
 * `failure` (their ResultPath), so a failure state's input carries `{ failure: { Error, Cause } }`.
 * Reads the input as parsed JSON or as the text a history event holds; anything else records nothing.
 * A CodeBuild Task's JSON cause reads as the builds that failed (`readableCause`).
 */
export function failureFromStateInput(input: unknown): RecordedFailure {
  let value = input;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return {};
    }
  }
  const failure = isRecord(value) ? value.failure : undefined;
  if (!isRecord(failure)) return {};
  return {
    ...(typeof failure.Error === 'string' && { error: failure.Error }),
    ...(typeof failure.Cause === 'string' && { cause: readableCause(failure.Cause) }),
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
