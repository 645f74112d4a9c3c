/**
 * Reads files of the deploy action's input artifact from S3 (`bucket/pipeline/<execution>/<artifact>/`),
 * each checked against the artifact's manifest before use.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ArtifactInvalidError, MANIFEST_FILE, type Manifest, ManifestSchema } from '@stepline/core';
import { type RetryOptions, retryTransient } from './retry';

/** `bucket/prefix/` → its bucket and key prefix. */
export function splitLocation(location: string): { bucket: string; prefix: string } {
  const slash = location.indexOf('/');
  if (slash <= 0) throw new ArtifactInvalidError(`artifact location ${location} is not bucket/prefix/`);
  const prefix = location.slice(slash + 1);
  return { bucket: location.slice(0, slash), prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

export class S3Artifact {
  private manifest: Promise<Manifest> | undefined;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly s3: S3Client,
    readonly name: string,
    location: string,
    private readonly retry: RetryOptions = {},
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = splitLocation(location));
  }

  /** Whether the artifact holds this file. */
  async has(path: string): Promise<boolean> {
    return (await this.readManifest()).files.some((f) => f.path === path);
  }

  /** The file's text, after its SHA-256 matched the manifest's. */
  async read(path: string): Promise<string> {
    const entry = (await this.readManifest()).files.find((f) => f.path === path);
    if (!entry) throw new ArtifactInvalidError(`artifact ${this.name} has no ${path}`);
    const text = await this.get(path);
    const sha = createHash('sha256').update(text, 'utf8').digest('hex');
    if (sha !== entry.sha256)
      throw new ArtifactInvalidError(`artifact ${this.name}: ${path} does not match its manifest (sha256 ${sha}, listed ${entry.sha256})`);
    return text;
  }

  private readManifest(): Promise<Manifest> {
    this.manifest ??= this.get(MANIFEST_FILE).then((text) => {
      const parsed = ManifestSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new ArtifactInvalidError(`artifact ${this.name}: ${MANIFEST_FILE} is not a stepline manifest`);
      return parsed.data;
    });
    return this.manifest;
  }

  private async get(path: string): Promise<string> {
    const key = `${this.prefix}${path}`;
    try {
      const object = await retryTransient(
        `GetObject s3://${this.bucket}/${key}`,
        () => this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })),
        this.retry,
      );
      return (await object.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NoSuchKey')
        throw new ArtifactInvalidError(`artifact ${this.name} has no ${path} at s3://${this.bucket}/${key}`, { cause: error });
      throw error;
    }
  }
}
