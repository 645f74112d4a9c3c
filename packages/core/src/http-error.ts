/**
 * An answer other than success to an HTTP caller (a webhook, an approval link), with its status and
 * whether its message may be shown. Both runtimes answer with it: the local server and the Lambdas.
 * It is not a `SteplineError`: it never fails a Task, so it has no `Stepline.*` name for ASL to see.
 */

export interface HttpErrorOptions {
  /** Whether the message may be shown to the caller. @default true below 500, false from 500 */
  expose?: boolean;
  /** Whether the same request may succeed later. @default status is 429 or 5xx */
  retryable?: boolean;
  cause?: unknown;
}

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
