/**
 * An S3 source, as CodePipeline's: the object at `bucket/key` (`repository`), at the version a start
 * named (S3_OBJECT_VERSION_ID) or its latest, under the key a start named when the action allows it
 * (S3_OBJECT_KEY). A zip is unpacked into the artifact; any other object is the artifact's one file,
 * as CodePipeline passes a single unzipped file on. Its variables are CodePipeline's (`ETag`,
 * `VersionId`), and the version is also the `CommitId`: a build whose project reads this S3 source
 * directly gets it as its `SourceVersion`.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html
 */
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { ErrorName, type S3SourceObject, SteplineError } from '@stepline/core';
import { unzipSync } from 'fflate';

export interface S3SourceRead {
  files: Array<{ path: string; data: Uint8Array }>;
  /** S3's ETag, without its quotes. */
  etag: string;
  /** The version read; empty when the bucket does not keep versions. */
  versionId: string;
}

/** A zip archive starts with a local file header. */
const isZip = (data: Uint8Array) => data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04;

/** Reads the object; a missing object, version or permission fails the action naming what was asked for. */
export async function readS3Source(s3: S3Client, object: S3SourceObject, action: string): Promise<S3SourceRead> {
  const what = `s3://${object.bucket}/${object.key}${object.versionId !== undefined ? ` (version ${object.versionId})` : ''}`;
  let answer: GetObjectCommandOutput;
  try {
    answer = await s3.send(
      new GetObjectCommand({ Bucket: object.bucket, Key: object.key, ...(object.versionId !== undefined && { VersionId: object.versionId }) }),
    );
  } catch (error) {
    const name = error instanceof Error ? error.name : String(error);
    if (['NoSuchKey', 'NoSuchVersion', 'NoSuchBucket', 'AccessDenied', 'InvalidArgument'].includes(name))
      throw new SteplineError(ErrorName.ActionFailed, `S3 source ${action}: ${what} could not be read: ${name}`, { cause: error });
    throw error;
  }
  const data = (await answer.Body?.transformToByteArray()) ?? new Uint8Array();
  const files = isZip(data)
    ? Object.entries(unzipSync(data))
        .filter(([path]) => !path.endsWith('/'))
        .map(([path, bytes]) => ({ path, data: bytes }))
    : [{ path: object.key.slice(object.key.lastIndexOf('/') + 1), data }];
  return { files, etag: (answer.ETag ?? '').replaceAll('"', ''), versionId: answer.VersionId ?? '' };
}
