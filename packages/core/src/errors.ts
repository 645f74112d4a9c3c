/**
 * Errors of stepline, and every `Stepline.*` error name, declared here and nowhere else.
 *
 * An error's `name` is a contract with the ASL `Retry`/`Catch` blocks the compiler writes: a handler
 * that throws `BuildFailedError` fails its Task with the error name `Stepline.BuildFailed`, which is
 * what `ErrorEquals` and the failure cause see. Each name says whether a later attempt may succeed
 * ({@link ErrorRetryable}); the compiler's Retry lists are made of the names that say yes, so a
 * terminal error is never retried and a transient one always is.
 */

/** The error names stepline raises, as `ErrorEquals` and the execution's error see them. */
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
  /** The process running a local execution ended before the execution did. */
  ProcessEnded: 'Stepline.ProcessEnded',
  /** A gate function was invoked with something that is not a gate event. */
  GateEventInvalid: 'Stepline.GateEventInvalid',
  /** The stored gate state is not what this version of stepline writes. */
  GateStateInvalid: 'Stepline.GateStateInvalid',
  /** A request to steer a local execution that its history does not allow (nothing to stop, no approval waiting). */
  ControlRefused: 'Stepline.ControlRefused',
  /** An installation's configuration (a function's environment) is missing or wrong. */
  Configuration: 'Stepline.Configuration',
  /** A stage condition's rule did not pass and the condition's result is FAIL. */
  ConditionNotMet: 'Stepline.ConditionNotMet',
} as const;
export type ErrorName = (typeof ErrorName)[keyof typeof ErrorName];

/**
 * Whether an error of each name may be retried: only a fault outside the work itself (throttling,
 * contention) may pass on a later attempt. A failed build, a rejection, a rollback, a broken
 * definition or configuration fails the same way every time.
 */
export const ErrorRetryable: { readonly [N in ErrorName]: boolean } = {
  [ErrorName.DefinitionInvalid]: false,
  [ErrorName.ActionFailed]: false,
  [ErrorName.BuildFailed]: false,
  [ErrorName.ArtifactInvalid]: false,
  [ErrorName.ApprovalRejected]: false,
  [ErrorName.ApprovalExpired]: false,
  [ErrorName.Superseded]: false,
  [ErrorName.Stopped]: false,
  [ErrorName.DeploymentRolledBack]: false,
  [ErrorName.CanaryAlarm]: false,
  [ErrorName.HookFailed]: false,
  [ErrorName.HealthCheckFailed]: false,
  [ErrorName.WeightNotApplied]: false,
  [ErrorName.Transient]: true,
  [ErrorName.ProcessEnded]: false,
  [ErrorName.GateEventInvalid]: false,
  [ErrorName.GateStateInvalid]: false,
  [ErrorName.ControlRefused]: false,
  [ErrorName.Configuration]: false,
  [ErrorName.ConditionNotMet]: false,
};

/** The names a Retry may list: those {@link ErrorRetryable} says a later attempt may pass. */
export function retryableErrorNames(): ErrorName[] {
  return (Object.keys(ErrorRetryable) as ErrorName[]).filter((name) => ErrorRetryable[name]);
}

export interface SteplineErrorOptions {
  cause?: unknown;
}

/** Base of every stepline error: a stable `name`, and from it whether a retry can help. */
export class SteplineError extends Error {
  override readonly name: ErrorName;
  constructor(name: ErrorName, message: string, options: SteplineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
  }

  /** Whether repeating the same call may succeed (see {@link ErrorRetryable}). */
  get retryable(): boolean {
    return ErrorRetryable[this.name];
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
