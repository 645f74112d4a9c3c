/**
 * Deployment records in the artifact bucket, one object per deployment at
 * `_stepline/deployments/<pipeline>/<execution>/<stage>/<action>.json`, written with conditional
 * writes: `If-None-Match: *` to create, `If-Match: <ETag>` to replace. 412 (changed) and 409 (a
 * concurrent conditional write) both mean "someone else wrote it: read again".
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ControlPrefix, type DeploymentKey, type DeploymentRecord, type DeploymentRecordStore, IN_FLIGHT_STATUSES, type StoredRecord } from '@stepline/core';
import { type RetryOptions, retryTransient } from './retry';

/** Beside (never inside) the `<pipeline>/<execution>/` artifact prefixes, like the gates' state. */
export const DEPLOYMENTS_PREFIX = ControlPrefix.deployments;

const status = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export class S3DeploymentRecords implements DeploymentRecordStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly retry: RetryOptions = {},
    readonly prefix: string = DEPLOYMENTS_PREFIX,
  ) {}

  key(k: DeploymentKey): string {
    return `${this.executionPrefix(k.pipeline, k.executionId)}${k.stage}/${k.action}.json`;
  }

  private executionPrefix(pipeline: string, executionId: string): string {
    return `${this.prefix}${pipeline}/${executionId}/`;
  }

  async get(k: DeploymentKey): Promise<StoredRecord | undefined> {
    return this.getKey(this.key(k));
  }

  async create(record: DeploymentRecord): Promise<StoredRecord | undefined> {
    return this.put(record, { IfNoneMatch: '*' });
  }

  async replace(record: DeploymentRecord, version: string): Promise<StoredRecord | undefined> {
    return this.put(record, { IfMatch: version });
  }

  async listInFlight(pipeline: string, executionId: string): Promise<DeploymentRecord[]> {
    const records: DeploymentRecord[] = [];
    let token: string | undefined;
    do {
      const page = await retryTransient(
        'ListObjectsV2',
        () => this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.executionPrefix(pipeline, executionId), ContinuationToken: token })),
        this.retry,
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key?.endsWith('.json')) continue;
        const stored = await this.getKey(object.Key);
        if (stored && IN_FLIGHT_STATUSES.includes(stored.record.status)) records.push(stored.record);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return records;
  }

  private async getKey(key: string): Promise<StoredRecord | undefined> {
    try {
      const object = await retryTransient('GetObject', () => this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })), this.retry);
      const text = (await object.Body?.transformToString('utf8')) ?? '';
      return { record: JSON.parse(text) as DeploymentRecord, version: object.ETag ?? '' };
    } catch (error) {
      if (status(error) === 404 || (error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  private async put(record: DeploymentRecord, condition: { IfNoneMatch: string } | { IfMatch: string }): Promise<StoredRecord | undefined> {
    try {
      const answer = await retryTransient(
        'PutObject',
        () =>
          this.s3.send(
            new PutObjectCommand({ Bucket: this.bucket, Key: this.key(record), Body: JSON.stringify(record), ContentType: 'application/json', ...condition }),
          ),
        this.retry,
      );
      return { record, version: answer.ETag ?? '' };
    } catch (error) {
      const code = status(error);
      if (code === 412 || code === 409 || (code === 404 && 'IfMatch' in condition)) return undefined;
      throw error;
    }
  }
}
