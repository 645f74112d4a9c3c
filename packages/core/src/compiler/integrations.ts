/**
 * The AWS service integrations stepline's Tasks target, with the retry policy each one gets.
 * Retries cover transient faults only (throttling, service errors); a failed build, a rejected
 * approval or a rolled-back deployment is final and is never retried.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html
 */
import { retryableErrorNames } from '../errors';
import type { RetryRule } from './states';

export const Resource = {
  CodeBuildSync: 'arn:aws:states:::codebuild:startBuild.sync',
  CodeBuildBatchSync: 'arn:aws:states:::codebuild:startBuildBatch.sync',
  LambdaInvoke: 'arn:aws:states:::lambda:invoke',
  LambdaWaitForToken: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
} as const;

/** Errors of the Lambda integration that say nothing about the function's own work. */
export const LAMBDA_TRANSIENT_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];
export const CODEBUILD_TRANSIENT_ERRORS = ['CodeBuild.AccountLimitExceededException', 'CodeBuild.ThrottlingException'];
/** Raised by stepline's own functions for a fault a later attempt may pass: every name core's errors declare retryable. */
export const STEPLINE_TRANSIENT_ERRORS: string[] = retryableErrorNames();
/** What a Task that invokes one of stepline's own functions retries: the Lambda integration's faults and the function's. */
export const FUNCTION_TRANSIENT_ERRORS: string[] = [...LAMBDA_TRANSIENT_ERRORS, ...STEPLINE_TRANSIENT_ERRORS];

export const retryTransient = (errors: string[]): RetryRule[] => [
  { ErrorEquals: errors, IntervalSeconds: 2, MaxAttempts: 5, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' },
];

export const Timeout = {
  sourceMinutes: 10,
  buildMinutes: 60,
  /** Time a build may wait in CodeBuild's queue on top of its own timeout. */
  buildQueueMinutes: 60,
  invokeMinutes: 15,
  /** CodePipeline's manual approval timeout: 7 days. */
  approvalMinutes: 7 * 24 * 60,
  /** A disabled transition may hold an execution this long before it times out. */
  gateMinutes: 30 * 24 * 60,
  prepareMinutes: 30,
  /** CodeDeploy allows a lifecycle hook one hour. */
  hookMinutes: 60,
  stepMinutes: 5,
  cleanupMinutes: 15,
  rollbackMinutes: 30,
} as const;
