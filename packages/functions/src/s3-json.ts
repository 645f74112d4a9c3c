/** Small JSON records kept in the artifact bucket: read one that may not be there yet. */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * The record at `key`, or undefined when there is none. S3 answers a missing key with 404 only to a
 * caller allowed `s3:ListBucket` (403 otherwise): every role that reads through this holds it.
 */
export async function readJsonIfPresent<T>(s3: S3Client, bucket: string, key: string): Promise<T | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await object.Body?.transformToString('utf8')) ?? '') as T;
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  }
}
