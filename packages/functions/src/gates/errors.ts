/**
 * Errors of the gate function's adapters. The reducer itself (`applyGateEvent`) cannot fail; what can
 * is keeping its state in S3 and answering task tokens.
 */

/** Someone else wrote the gate state since it was read (S3 answered 412 or 409): read it again and retry. */
export class GateConflictError extends Error {
  override readonly name = 'GateConflictError';
  readonly retryable = true;
  constructor(pipeline: string, options?: { cause?: unknown }) {
    super(`the gate state of pipeline ${pipeline} changed while it was being updated`, options);
  }
}

/** Writes kept conflicting after every attempt; a later call may succeed. */
export class GateContentionError extends Error {
  override readonly name = 'Stepline.Transient';
  readonly retryable = true;
  constructor(pipeline: string, attempts: number, options?: { cause?: unknown }) {
    super(`the gate state of pipeline ${pipeline} kept changing: gave up after ${attempts} attempts`, options);
  }
}

/** The stored gate state is not what this version of stepline writes. */
export class GateStateInvalidError extends Error {
  override readonly name = 'GateStateInvalidError';
  readonly retryable = false;
  constructor(where: string, detail: string, options?: { cause?: unknown }) {
    super(`${where}: not a stepline gate state (${detail})`, options);
  }
}
