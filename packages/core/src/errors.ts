/**
 * Errors of stepline's core.
 *
 * An error's `name` is a contract with the ASL `Retry`/`Catch` blocks the compiler writes: a handler
 * that throws `BuildFailedError` fails its Task with the error name `Stepline.BuildFailed`, which is
 * what `ErrorEquals` and the failure cause see. Terminal errors (`retryable: false`) are never retried.
 */

/** The error names stepline raises from Task handlers, as `ErrorEquals` sees them. */
export const ErrorName = {
  DefinitionInvalid: 'Stepline.DefinitionInvalid',
  ActionFailed: 'Stepline.ActionFailed',
  BuildFailed: 'Stepline.BuildFailed',
  ArtifactInvalid: 'Stepline.ArtifactInvalid',
  ApprovalRejected: 'Stepline.ApprovalRejected',
  ApprovalExpired: 'Stepline.ApprovalExpired',
  Superseded: 'Stepline.Superseded',
  Stopped: 'Stepline.Stopped',
  DeploymentRolledBack: 'Stepline.DeploymentRolledBack',
  CanaryAlarm: 'Stepline.CanaryAlarm',
  HookFailed: 'Stepline.HookFailed',
  HealthCheckFailed: 'Stepline.HealthCheckFailed',
  WeightNotApplied: 'Stepline.WeightNotApplied',
  /** A fault that a later attempt may not meet (throttling that outlasted the SDK's retries). */
  Transient: 'Stepline.Transient',
} as const;
export type ErrorName = (typeof ErrorName)[keyof typeof ErrorName];

export interface SteplineErrorOptions {
  cause?: unknown;
  /** Whether repeating the same call may succeed. @default false */
  retryable?: boolean;
}

/** Base of every stepline error: a stable `name` and whether a retry can help. */
export class SteplineError extends Error {
  readonly retryable: boolean;
  constructor(name: ErrorName, message: string, options: SteplineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.retryable = options.retryable ?? false;
  }
}

/** One problem found in a definition, at a path such as `stages[1].actions[0].runOrder`. */
export interface DefinitionIssue {
  path: string;
  message: string;
}

/**
 * A pipeline definition (or imported CodePipeline/CloudFormation document) that cannot be used.
 * Carries every issue found, so a user fixes a file in one pass.
 */
export class DefinitionError extends SteplineError {
  readonly issues: readonly DefinitionIssue[];
  readonly source: string | undefined;
  constructor(issues: readonly DefinitionIssue[], source?: string) {
    super(ErrorName.DefinitionInvalid, formatIssues(issues, source));
    this.issues = issues;
    this.source = source;
  }
}

export function formatIssues(issues: readonly DefinitionIssue[], source?: string): string {
  const where = source ? `${source}: ` : '';
  const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  if (lines.length === 1) return `${where}${lines[0]}`;
  return `${where}${lines.length} problems\n${lines.map((l) => `  - ${l}`).join('\n')}`;
}

export class BuildFailedError extends SteplineError {
  constructor(message: string, options?: SteplineErrorOptions) {
    super(ErrorName.BuildFailed, message, options);
  }
}

export class ArtifactInvalidError extends SteplineError {
  constructor(message: string, options?: SteplineErrorOptions) {
    super(ErrorName.ArtifactInvalid, message, options);
  }
}

export class ApprovalRejectedError extends SteplineError {
  constructor(message: string) {
    super(ErrorName.ApprovalRejected, message);
  }
}

export class DeploymentRolledBackError extends SteplineError {
  constructor(message: string, options?: SteplineErrorOptions) {
    super(ErrorName.DeploymentRolledBack, message, options);
  }
}
