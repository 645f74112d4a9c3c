/**
 * Approvals in S3, beside the gate state under `_stepline/approvals/`: one object per approval (the
 * request, holding the task token) and one per decision. Both are created with `If-None-Match: *`, so a
 * retried request never writes a second record and an approval is decided once: the first decision's
 * write wins and every later one gets 412. The task token is only ever in these objects' bodies, never
 * in a key, a URL or a log line.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type ApprovalDecisionRecord, ApprovalDecisionRecordSchema, type ApprovalRecord, ApprovalRecordSchema, ControlPrefix } from '@stepline/core';
import type * as z from 'zod';

export const APPROVAL_PREFIX = ControlPrefix.approvals;

export interface ApprovalStore {
  /** `created`, or `exists` when a record is already stored under the id (a retried request). */
  putRequest(record: ApprovalRecord): Promise<'created' | 'exists'>;
  getRequest(approvalId: string): Promise<ApprovalRecord | undefined>;
  /** `created`, or `exists` when the approval was already decided. */
  putDecision(decision: ApprovalDecisionRecord): Promise<'created' | 'exists'>;
  getDecision(approvalId: string): Promise<ApprovalDecisionRecord | undefined>;
}

export interface S3ApprovalStoreOptions {
  s3: () => Promise<S3Client>;
  bucket: string;
  /** @default '_stepline/approvals/' */
  prefix?: string;
}

export class S3ApprovalStore implements ApprovalStore {
  private readonly prefix: string;

  constructor(private readonly options: S3ApprovalStoreOptions) {
    this.prefix = options.prefix ?? APPROVAL_PREFIX;
  }

  requestKey(approvalId: string): string {
    return `${this.prefix}${approvalId}/request.json`;
  }

  decisionKey(approvalId: string): string {
    return `${this.prefix}${approvalId}/decision.json`;
  }

  putRequest(record: ApprovalRecord): Promise<'created' | 'exists'> {
    return this.create(this.requestKey(record.approvalId), record);
  }

  getRequest(approvalId: string): Promise<ApprovalRecord | undefined> {
    return this.read(this.requestKey(approvalId), ApprovalRecordSchema);
  }

  putDecision(decision: ApprovalDecisionRecord): Promise<'created' | 'exists'> {
    return this.create(this.decisionKey(decision.approvalId), decision);
  }

  getDecision(approvalId: string): Promise<ApprovalDecisionRecord | undefined> {
    return this.read(this.decisionKey(approvalId), ApprovalDecisionRecordSchema);
  }

  private async create(key: string, value: unknown): Promise<'created' | 'exists'> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = await this.options.s3();
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: JSON.stringify(value), ContentType: 'application/json', IfNoneMatch: '*' }),
      );
      return 'created';
    } catch (error) {
      // 412: the object exists. 409: a concurrent conditional write to the same key is in flight: it will exist.
      const status = httpStatus(error);
      if (status === 412 || status === 409) return 'exists';
      throw error;
    }
  }

  private async read<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = await this.options.s3();
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      const text = (await object.Body?.transformToString('utf8')) ?? '';
      return schema.parse(JSON.parse(text));
    } catch (error) {
      if ((error as { name?: unknown })?.name === 'NoSuchKey' || httpStatus(error) === 404) return undefined;
      throw error;
    }
  }
}

/** An in-memory store with the same create-once rules, for tests and one-machine use. */
export class MemoryApprovalStore implements ApprovalStore {
  readonly requests = new Map<string, ApprovalRecord>();
  readonly decisions = new Map<string, ApprovalDecisionRecord>();

  async putRequest(record: ApprovalRecord): Promise<'created' | 'exists'> {
    return createOnce(this.requests, record.approvalId, record);
  }

  async getRequest(approvalId: string): Promise<ApprovalRecord | undefined> {
    return this.requests.get(approvalId);
  }

  async putDecision(decision: ApprovalDecisionRecord): Promise<'created' | 'exists'> {
    return createOnce(this.decisions, decision.approvalId, decision);
  }

  async getDecision(approvalId: string): Promise<ApprovalDecisionRecord | undefined> {
    return this.decisions.get(approvalId);
  }
}

/** `If-None-Match: *` in memory: the first write under a key wins. */
function createOnce<T>(records: Map<string, T>, key: string, value: T): 'created' | 'exists' {
  if (records.has(key)) return 'exists';
  records.set(key, structuredClone(value));
  return 'created';
}

export function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}
