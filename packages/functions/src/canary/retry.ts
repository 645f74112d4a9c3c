/**
 * Throttling is expected here: ELBv2's ModifyListener and ECS's task-set calls have low rate limits,
 * and several pipelines may deploy at once. The SDK retries each call a few times; this adds a slower
 * backoff on top, and when the API is still throttled hands over to the state machine, which retries
 * `Stepline.Transient` with its own backoff (every canary operation is idempotent).
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/CommonErrors.html
 */
import { ErrorName, SteplineError } from '@stepline/core';

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

/** Whether an SDK error says "try again later": throttling, or a fault on the service's side. */
export function isTransientAwsError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number }; $fault?: string };
  if (typeof e.name === 'string' && THROTTLING.has(e.name)) return true;
  if (e.$retryable?.throttling === true) return true;
  const status = e.$metadata?.httpStatusCode;
  return status === 429 || (status !== undefined && status >= 500 && e.$fault === 'server');
}

export interface RetryOptions {
  /** Attempts in all, the first included. @default 4 */
  attempts?: number;
  /** First backoff; it doubles each time, with full jitter. @default 500 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Runs `call`, retrying transient AWS errors; throws `Stepline.Transient` once attempts run out. */
export async function retryTransient<T>(what: string, call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 500;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransientAwsError(error)) throw error;
      if (attempt >= attempts) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw new SteplineError(ErrorName.Transient, `${what} was still refused after ${attempts} attempts (${reason})`, { cause: error });
      }
      await sleep(Math.floor(random() * base * 2 ** (attempt - 1)));
    }
  }
}
