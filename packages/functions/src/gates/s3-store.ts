/**
 * Gate state in S3, one object per pipeline, replaced with conditional writes: `If-Match` on the ETag
 * read, or `If-None-Match: *` to create. S3 answers 412 when the object changed (or already exists) and
 * 409 when another conditional write to the key is in flight; both mean "read again".
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ControlPrefix, emptyGateState } from '@stepline/core';
import { GateConflictError } from './errors';
import { type GateDocument, type GateStore, parseGateDocument, type StoredGate } from './store';

/** Under the artifact bucket, beside (never inside) the `<pipeline>/<execution>/` artifact prefixes. */
export const GATE_PREFIX = ControlPrefix.gates;

export interface S3GateStoreOptions {
  s3: S3Client;
  bucket: string;
  /** @default '_stepline/gates/' */
  prefix?: string;
}

export class S3GateStore implements GateStore {
  private readonly s3: S3Client;
  readonly bucket: string;
  readonly prefix: string;

  constructor(options: S3GateStoreOptions) {
    this.s3 = options.s3;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? GATE_PREFIX;
  }

  key(pipeline: string): string {
    return `${this.prefix}${pipeline}.json`;
  }

  async load(pipeline: string): Promise<StoredGate> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(pipeline) }));
      const text = (await object.Body?.transformToString('utf8')) ?? '';
      return { document: parseGateDocument(text, `s3://${this.bucket}/${this.key(pipeline)}`), etag: object.ETag };
    } catch (error) {
      if (error instanceof NoSuchKey || httpStatus(error) === 404) return { document: { version: 1, pipeline, state: emptyGateState() }, etag: undefined };
      throw error;
    }
  }

  async save(document: GateDocument, etag: string | undefined): Promise<string> {
    try {
      const result = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(document.pipeline),
          Body: JSON.stringify(document),
          ContentType: 'application/json',
          ...(etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag }),
        }),
      );
      return result.ETag ?? '';
    } catch (error) {
      // 404: the object we read was deleted since; 409: a concurrent conditional write; 412: it changed.
      const status = httpStatus(error);
      if (status === 412 || status === 409 || (status === 404 && etag !== undefined)) throw new GateConflictError(document.pipeline, { cause: error });
      throw error;
    }
  }
}

function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return metadata?.httpStatusCode;
}
