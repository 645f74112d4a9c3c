/**
 * What every function reads from its environment, and its AWS clients, made once per execution
 * environment and only when first used (a cold start pays for the clients a request needs).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DefinitionError } from '@stepline/core';
import type * as z from 'zod';
import { ConfigurationError } from './errors';

export type Env = Readonly<Record<string, string | undefined>>;

export function requiredEnv(env: Env, name: string, what: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new ConfigurationError(`the environment variable ${name} (${what}) is not set`);
  return value.trim();
}

export function optionalEnv(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A value made on first use and kept (for a promise: the first call's promise). */
export function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

/** JSON logs to CloudWatch, one logger per function (`service` in every line). */
export function functionLogger(service: string): Logger {
  return new Logger({ serviceName: `stepline-${service}` });
}

/** Region and account of the running function, from its ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
export function functionAccount(invokedFunctionArn: string | undefined): { region: string; account: string } | undefined {
  const parts = invokedFunctionArn?.split(':') ?? [];
  const region = parts[3];
  const account = parts[4];
  return region && account ? { region, account } : undefined;
}

/** JSON with keys sorted, so two equal values compare equal as text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The payload a compiled Task sent, parsed with its schema, its action's identity added to the log's
 * keys. A payload the schema refuses is a definition error naming each path: the state machine and the
 * function disagree, and no retry mends that.
 */
export function actionTask<S extends z.ZodType<{ pipeline: string; stage: string; action: string; executionId: string }>>(
  schema: S,
  event: unknown,
  what: string,
  logger: Logger,
): z.infer<S> {
  const parsed = schema.safeParse(event);
  if (!parsed.success)
    throw new DefinitionError(
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      what,
    );
  const { pipeline, stage, action, executionId } = parsed.data;
  logger.appendKeys({ pipeline, stage, action, executionId });
  return parsed.data;
}
