/**
 * Errors of stepline's Lambda functions, each a core `SteplineError` (its name declared in core's
 * errors module). Errors met while answering HTTP are core's `HttpError`, re-exported here; everything
 * else is logged and answered generically.
 */
import { ErrorName, SteplineError, type SteplineErrorOptions } from '@stepline/core';

export { HttpError, type HttpErrorOptions } from '@stepline/core';

/** An environment variable is missing or wrong: the installation is broken, not the request. */
export class ConfigurationError extends SteplineError {
  constructor(message: string, options?: SteplineErrorOptions) {
    super(ErrorName.Configuration, message, options);
  }
}
