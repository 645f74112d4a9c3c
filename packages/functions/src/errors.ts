/**
 * Errors of stepline's Lambda functions. Errors met while answering HTTP carry a status and whether
 * their message may be shown to the caller; everything else is logged and answered generically.
 * Errors that fail a Task use core's `SteplineError` names (`Stepline.ActionFailed`, `Stepline.Transient`).
 */

export interface HttpErrorOptions {
  /** Whether the message may be shown to the caller. @default true below 500, false from 500 */
  expose?: boolean;
  /** Whether the same request may succeed later. @default status is 429 or 5xx */
  retryable?: boolean;
  cause?: unknown;
}

/** An answer other than success, with its HTTP status. */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  readonly status: number;
  readonly expose: boolean;
  readonly retryable: boolean;
  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.expose = options.expose ?? status < 500;
    this.retryable = options.retryable ?? (status === 429 || status >= 500);
  }
}

/** An environment variable is missing or wrong: the installation is broken, not the request. */
export class ConfigurationError extends Error {
  override readonly name = 'Stepline.Configuration';
  readonly retryable = false;
}
