import { describe, expect, it } from 'vitest';
import { FUNCTION_TRANSIENT_ERRORS, STEPLINE_TRANSIENT_ERRORS } from './compiler/integrations';
import { BuildFailedError, ErrorName, ErrorRetryable, retryableErrorNames, SteplineError } from './errors';

describe('error names and retries', () => {
  it('every name says whether it may be retried, and only Stepline.Transient may', () => {
    expect(Object.keys(ErrorRetryable).sort()).toStrictEqual(Object.values(ErrorName).sort());
    expect(retryableErrorNames()).toStrictEqual([ErrorName.Transient]);
  });

  it('an error is retryable exactly when its name is', () => {
    expect(new SteplineError(ErrorName.Transient, 'throttled').retryable).toBe(true);
    expect(new BuildFailedError('exit 2').retryable).toBe(false);
    expect(new BuildFailedError('exit 2').name).toBe('Stepline.BuildFailed');
  });

  it("the compiler retries every retryable name and no terminal one on stepline's own functions", () => {
    expect(STEPLINE_TRANSIENT_ERRORS).toStrictEqual(retryableErrorNames());
    for (const name of Object.values(ErrorName)) expect(FUNCTION_TRANSIENT_ERRORS.includes(name)).toBe(ErrorRetryable[name]);
  });
});
