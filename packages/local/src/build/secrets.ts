/**
 * Values for `env.parameter-store` and `env.secrets-manager` on a machine without AWS: the environment
 * variable of the same name first, else a JSON file keyed by the reference the buildspec gives
 * (`"prod/db:password": "…"`), or by secret id holding an object or a JSON string (`"prod/db":
 * {"password": "…"}`), as Secrets Manager stores it. Messages name variables and references, never values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type Buildspec, type DefinitionIssue, formatPath, parseSecretReference } from '@stepline/core';

export interface SecretSources {
  /** JSON object keyed by reference. A missing file holds nothing. */
  file?: string;
  env: Record<string, string | undefined>;
}

export interface ResolvedSecrets {
  /** NAME → value, for every variable found. */
  values: Record<string, string>;
  /** One per variable without a value, or a file that cannot be read. */
  problems: DefinitionIssue[];
}

/** Resolves every secret variable of the buildspec except those in `skip` (given another value). */
export function resolveSecrets(buildspec: Buildspec, sources: SecretSources, skip: ReadonlySet<string> = new Set()): ResolvedSecrets {
  const values: Record<string, string> = {};
  const problems: DefinitionIssue[] = [];
  const wanted = [
    ...Object.entries(buildspec.env.parameterStore).map(([name, ref]) => ({ name, ref, key: 'parameter-store' as const })),
    ...Object.entries(buildspec.env.secretsManager).map(([name, ref]) => ({ name, ref, key: 'secrets-manager' as const })),
  ].filter(({ name }) => !skip.has(name));
  if (wanted.length === 0) return { values, problems };

  const store = readStore(sources.file, problems);
  for (const { name, ref, key } of wanted) {
    const value = sources.env[name] ?? (store && (key === 'secrets-manager' ? secretValue(store, ref) : scalar(store[ref])));
    if (value !== undefined) values[name] = value;
    else {
      const orFile = sources.file ? ` or add "${ref}" to ${sources.file}` : '';
      problems.push({ path: formatPath(['env', key, name]), message: `no value for ${ref}: set the environment variable ${name}${orFile}` });
    }
  }
  return { values, problems };
}

function readStore(file: string | undefined, problems: DefinitionIssue[]): Record<string, unknown> | undefined {
  if (!file || !existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // JSON.parse quotes the text around the error, which may be a secret: say where, not what.
    problems.push({ path: '', message: `${file} is not valid JSON` });
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push({ path: '', message: `${file} must hold a JSON object keyed by reference` });
    return undefined;
  }
  return parsed as Record<string, unknown>;
}

function secretValue(store: Record<string, unknown>, reference: string): string | undefined {
  const exact = scalar(store[reference]);
  if (exact !== undefined) return exact;
  const { secretId, jsonKey } = parseSecretReference(reference);
  const secret = store[secretId];
  if (jsonKey === undefined) return scalar(secret);
  if (typeof secret === 'object' && secret !== null) return scalar((secret as Record<string, unknown>)[jsonKey]);
  if (typeof secret !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(secret);
    return typeof parsed === 'object' && parsed !== null ? scalar((parsed as Record<string, unknown>)[jsonKey]) : undefined;
  } catch {
    return undefined;
  }
}

const scalar = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
