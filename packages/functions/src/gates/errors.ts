/**
 * Errors of the gate function's adapters. The reducer itself (`applyGateEvent`) cannot fail; what can
 * is keeping its state in S3 and answering task tokens.
 */
import { ErrorName, SteplineError, type SteplineErrorOptions } from '@stepline/core';

/** Someone else wrote the gate state since it was read (S3 answered 412 or 409): read it again and retry. */
export class GateConflictError extends SteplineError {
  constructor(pipeline: string, options?: SteplineErrorOptions) {
    super(ErrorName.Transient, `the gate state of pipeline ${pipeline} changed while it was being updated`, options);
  }
}

/** Writes kept conflicting after every attempt; a later call may succeed. */
export class GateContentionError extends SteplineError {
  constructor(pipeline: string, attempts: number, options?: SteplineErrorOptions) {
    super(ErrorName.Transient, `the gate state of pipeline ${pipeline} kept changing: gave up after ${attempts} attempts`, options);
  }
}

/** The stored gate state is not what this version of stepline writes. */
export class GateStateInvalidError extends SteplineError {
  constructor(where: string, detail: string, options?: SteplineErrorOptions) {
    super(ErrorName.GateStateInvalid, `${where}: not a stepline gate state (${detail})`, options);
  }
}
