/**
 * The pipeline definitions the webhook matches deliveries against. `PIPELINES` holds them as a JSON
 * array, or names a JSON array in S3 (`s3://bucket/key`), which is the way for more than a few: Lambda
 * allows 4 KB of environment in all. They are parsed with core's schema (defaults applied), so the
 * webhook sees exactly what the compiler saw, and kept for `ttlMs` so that a changed file is picked up.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type Pipeline, PipelineSchema } from '@stepline/core';
import { ConfigurationError } from '../errors';

export interface PipelineSourceOptions {
  /** The value of `PIPELINES`. */
  setting: string;
  s3: () => Promise<S3Client>;
  /** @default 60_000 */
  ttlMs?: number;
  now?: () => number;
}

export class PipelineSource {
  private cached: { pipelines: Pipeline[]; at: number } | undefined;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: PipelineSourceOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  async load(): Promise<Pipeline[]> {
    if (this.cached && this.now() - this.cached.at < this.ttlMs) return this.cached.pipelines;
    const text = await this.read();
    const pipelines = parsePipelines(text, this.where());
    this.cached = { pipelines, at: this.now() };
    return pipelines;
  }

  private where(): string {
    return this.options.setting.startsWith('s3://') ? this.options.setting : 'PIPELINES';
  }

  private async read(): Promise<string> {
    const setting = this.options.setting;
    if (!setting.startsWith('s3://')) return setting;
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(setting);
    if (!match?.[1] || !match[2]) throw new ConfigurationError(`PIPELINES: expected s3://bucket/key, got ${setting}`);
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const object = await (await this.options.s3()).send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
    return (await object.Body?.transformToString('utf8')) ?? '';
  }
}

/** Parses a JSON array of pipeline definitions; names the first problem of each one that fails. */
export function parsePipelines(text: string, where: string): Pipeline[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`${where}: not JSON`, { cause: error });
  }
  if (!Array.isArray(value)) throw new ConfigurationError(`${where}: expected a JSON array of pipeline definitions`);
  const problems: string[] = [];
  const pipelines: Pipeline[] = [];
  value.forEach((definition, i) => {
    const result = PipelineSchema.safeParse(definition);
    if (result.success) pipelines.push(result.data);
    else {
      const issue = result.error.issues[0];
      problems.push(`[${i}]${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`);
    }
  });
  if (problems.length > 0) throw new ConfigurationError(`${where}: ${problems.join('; ')}`);
  return pipelines;
}
