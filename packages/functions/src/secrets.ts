/**
 * Secrets the functions need (the GitHub webhook secret, the approval link key, Slack's signing secret
 * and webhook URL, a GitHub token), read from Secrets Manager or SSM Parameter Store and cached in the
 * execution environment between invocations.
 *
 * A reference is one of:
 * - a Secrets Manager ARN or name (`arn:aws:secretsmanager:…:secret:stepline/github-abc123`, `stepline/github`);
 * - an SSM parameter ARN or name starting with `/` (`arn:aws:ssm:…:parameter/stepline/key`, `/stepline/key`),
 *   read with decryption (SecureString);
 * and may end with `#field` to take one field of a JSON secret (`stepline/slack#signingSecret`).
 * @see https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets.html
 * @see https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-parameter-store.html
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { ConfigurationError } from './errors';

export interface SecretSource {
  /** The secret's value, from the cache while it is younger than the cache's time to live. */
  get(reference: string): Promise<string>;
  /** Reads the secret again when the cached value is older than `minAgeMs` (a rotated secret); returns it. */
  refresh(reference: string, minAgeMs: number): Promise<string | undefined>;
}

export interface SecretCacheOptions {
  /** Made on first use: a function whose secrets are all in SSM never loads the Secrets Manager client. */
  secretsManager: () => Promise<SecretsManagerClient>;
  ssm: () => Promise<SSMClient>;
  /** @default 300_000 (five minutes, as the AWS Parameters and Secrets extension) */
  ttlMs?: number;
  now?: () => number;
}

interface Entry {
  value: string;
  fetchedAt: number;
}

export class SecretCache implements SecretSource {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SecretCacheOptions) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.now = options.now ?? Date.now;
  }

  async get(reference: string): Promise<string> {
    const entry = this.entries.get(reference);
    if (entry && this.now() - entry.fetchedAt < this.ttlMs) return entry.value;
    return this.fetch(reference);
  }

  async refresh(reference: string, minAgeMs: number): Promise<string | undefined> {
    const entry = this.entries.get(reference);
    if (entry && this.now() - entry.fetchedAt < minAgeMs) return undefined;
    return this.fetch(reference);
  }

  private fetch(reference: string): Promise<string> {
    const running = this.inflight.get(reference);
    if (running) return running;
    const promise = this.read(reference)
      .then((value) => {
        this.entries.set(reference, { value, fetchedAt: this.now() });
        return value;
      })
      .finally(() => this.inflight.delete(reference));
    this.inflight.set(reference, promise);
    return promise;
  }

  private async read(reference: string): Promise<string> {
    const hash = reference.indexOf('#');
    const id = hash < 0 ? reference : reference.slice(0, hash);
    const field = hash < 0 ? undefined : reference.slice(hash + 1);
    let text: string | undefined;
    if (id.startsWith('arn:aws:ssm:') || id.startsWith('/')) {
      const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
      const out = await (await this.options.ssm()).send(new GetParameterCommand({ Name: id, WithDecryption: true }));
      text = out.Parameter?.Value;
    } else {
      const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
      const out = await (await this.options.secretsManager()).send(new GetSecretValueCommand({ SecretId: id }));
      text = out.SecretString;
    }
    if (text === undefined || text === '') throw new ConfigurationError(`secret ${id} has no text value`);
    if (field === undefined) return text;
    let value: unknown;
    try {
      value = (JSON.parse(text) as Record<string, unknown>)[field];
    } catch (error) {
      throw new ConfigurationError(`secret ${id} is not JSON, so it has no field ${field}`, { cause: error });
    }
    if (typeof value !== 'string' || value === '') throw new ConfigurationError(`secret ${id} has no text field ${field}`);
    return value;
  }
}
