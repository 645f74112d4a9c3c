/** Errors the CLI shows as a message and exit code 1, without a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
