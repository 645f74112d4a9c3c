/**
 * Reads files of the deploy action's input artifact from S3 (`bucket/pipeline/<execution>/<artifact>/`).
 *
 * Two producers write there. A source action stores a stepline `manifest.json` last (every file and its
 * SHA-256), and each file is checked against it. A build's output is CodeBuild's own upload of
 * `artifacts.files` (packaging NONE), which has no stepline manifest: its files are read with S3's
 * checksum validation on (`ChecksumMode: ENABLED`; S3 stores a checksum of every new object), and a
 * missing file is told apart from a missing permission because the role may list the bucket.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ArtifactInvalidError, MANIFEST_FILE, type Manifest, type ManifestFile, ManifestSchema } from '@stepline/core';
import { mapLimit } from '../concurrency';
import { type RetryOptions, retryTransient } from './retry';

/** `bucket/prefix/` → its bucket and key prefix. */
export function splitLocation(location: string): { bucket: string; prefix: string } {
  const slash = location.indexOf('/');
  if (slash <= 0) throw new ArtifactInvalidError(`artifact location ${location} is not bucket/prefix/`);
  const prefix = location.slice(slash + 1);
  return { bucket: location.slice(0, slash), prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

export class S3Artifact {
  /** The stepline manifest, or undefined for a CodeBuild upload (none there). */
  private manifest: Promise<Manifest | undefined> | undefined;
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
    const manifest = await this.readManifest();
    if (manifest) return manifest.files.some((f) => f.path === path);
    return (await this.get(path, { missingOk: true })) !== undefined;
  }

  /** The file's text, after its SHA-256 matched the manifest's (or S3's checksum, for a CodeBuild upload). */
  async read(path: string): Promise<string> {
    return new TextDecoder().decode(await this.bytes(path));
  }

  /** The file's bytes, checked as `read` checks them. */
  async bytes(path: string): Promise<Uint8Array> {
    const manifest = await this.readManifest();
    if (!manifest) return (await this.get(path, { missingOk: false })) ?? new Uint8Array();
    const entry = manifest.files.find((f) => f.path === path);
    if (!entry) throw new ArtifactInvalidError(`artifact ${this.name} has no ${path}`);
    const data = (await this.get(path, { missingOk: false })) ?? new Uint8Array();
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== entry.sha256)
      throw new ArtifactInvalidError(`artifact ${this.name}: ${path} does not match its manifest (sha256 ${sha}, listed ${entry.sha256})`);
    return data;
  }

  /**
   * Every file of the artifact: the manifest's list, or, for a CodeBuild upload (no stepline manifest),
   * what is stored under the artifact's prefix (the role may list the bucket).
   */
  async files(): Promise<string[]> {
    const manifest = await this.readManifest();
    if (manifest) return manifest.files.map((f) => f.path);
    const paths: string[] = [];
    let token: string | undefined;
    do {
      const page = await retryTransient(
        `ListObjectsV2 s3://${this.bucket}/${this.prefix}`,
        () => this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ...(token && { ContinuationToken: token }) })),
        this.retry,
      );
      for (const object of page.Contents ?? []) if (object.Key && !object.Key.endsWith('/')) paths.push(object.Key.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return paths;
  }

  /**
   * Every file and its SHA-256, for a consumer that checks the files elsewhere (an instance, after its
   * download): the manifest's list, or, for a CodeBuild upload, each file read (S3's checksum checked) and hashed.
   */
  async digests(): Promise<Array<Pick<ManifestFile, 'path' | 'sha256'>>> {
    const manifest = await this.readManifest();
    if (manifest) return manifest.files.map(({ path, sha256 }) => ({ path, sha256 }));
    const sha256 = async (path: string) =>
      createHash('sha256')
        .update(await this.bytes(path))
        .digest('hex');
    return mapLimit(await this.files(), 8, async (path) => ({ path, sha256: await sha256(path) }));
  }

  private readManifest(): Promise<Manifest | undefined> {
    this.manifest ??= this.get(MANIFEST_FILE, { missingOk: true }).then((data) => {
      if (data === undefined) return undefined;
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder().decode(data));
      } catch {
        value = undefined;
      }
      const parsed = ManifestSchema.safeParse(value);
      // A build's own manifest.json, uploaded by CodeBuild among its files, is not stepline's.
      return parsed.success ? parsed.data : undefined;
    });
    return this.manifest;
  }

  private async get(path: string, options: { missingOk: boolean }): Promise<Uint8Array | undefined> {
    const key = `${this.prefix}${path}`;
    try {
      const object = await retryTransient(
        `GetObject s3://${this.bucket}/${key}`,
        () => this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' })),
        this.retry,
      );
      return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NoSuchKey') {
        if (options.missingOk) return undefined;
        throw new ArtifactInvalidError(`artifact ${this.name} has no ${path} at s3://${this.bucket}/${key}`, { cause: error });
      }
      if (status === 403)
        throw new ArtifactInvalidError(
          `s3://${this.bucket}/${key}: access denied (a missing object reads as 403 unless the role may s3:ListBucket the bucket)`,
          { cause: error },
        );
      throw error;
    }
  }
}

/** What the canary reads of its input: one artifact, or several searched in order. */
export interface ArtifactReader {
  readonly name: string;
  has(path: string): Promise<boolean>;
  read(path: string): Promise<string>;
}

/**
 * A deploy action's input artifacts, searched in the action's order for each file, as CodeDeployToECS
 * finds taskdef.json and the appspec in one artifact and imageDetail.json in another.
 */
export class ArtifactSet implements ArtifactReader {
  readonly name: string;

  constructor(private readonly artifacts: readonly ArtifactReader[]) {
    this.name = artifacts.map((a) => a.name).join(', ');
  }

  async has(path: string): Promise<boolean> {
    for (const artifact of this.artifacts) if (await artifact.has(path)) return true;
    return false;
  }

  async read(path: string): Promise<string> {
    for (const artifact of this.artifacts) if (await artifact.has(path)) return artifact.read(path);
    throw new ArtifactInvalidError(`no input artifact holds ${path} (searched ${this.name})`);
  }
}
