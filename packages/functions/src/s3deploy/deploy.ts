/**
 * An S3 deploy action on AWS: the input artifact (`bucket/pipeline/<execution>/<artifact>/`, each file
 * checked before it is written: against a source's manifest, or S3's checksum for a build's output as
 * CodeBuild uploads it) into the action's bucket, each file under
 * its path (below `objectKey` when given) or as one zip at `objectKey`, with the action's canned ACL,
 * Cache-Control and KMS key, as CodePipeline's S3 deploy action.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3Deploy.html
 */
import { type ObjectCannedACL, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { ArtifactInvalidError, CANNED_ACLS, zipStored } from '@stepline/core';
import * as z from 'zod';
import { S3Artifact } from '../canary/artifact';

/** What the compiled s3deploy Task sends (see `compileS3Deploy`). */
export const S3DeployTaskSchema = z.object({
  pipeline: z.string(),
  stage: z.string(),
  action: z.string(),
  executionId: z.string(),
  operation: z.literal('s3deploy'),
  artifact: z.object({ name: z.string(), location: z.string() }),
  bucket: z.string().min(1),
  extract: z.boolean(),
  objectKey: z.string().optional(),
  kmsEncryptionKeyArn: z.string().optional(),
  cannedAcl: z.enum(CANNED_ACLS).optional(),
  cacheControl: z.string().optional(),
});
export type S3DeployTask = z.infer<typeof S3DeployTaskSchema>;

export interface S3DeployResult {
  bucket: string;
  /** The keys written, in the manifest's order. */
  keys: string[];
}

/** Content types by extension, for what browsers load from a static site; anything else is binary. */
const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  json: 'application/json',
  map: 'application/json',
  txt: 'text/plain',
  xml: 'application/xml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  ico: 'image/x-icon',
  woff: 'font/woff',
  woff2: 'font/woff2',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  zip: 'application/zip',
};

export function contentType(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

/** Writes the task's artifact into its bucket. Files are written a few at a time; a failure fails the action. */
export async function deployToS3(s3: S3Client, task: S3DeployTask, concurrency = 8): Promise<S3DeployResult> {
  // A source's artifact has a stepline manifest to check each file against; a build's is CodeBuild's
  // upload, read with S3's checksums (S3Artifact).
  const artifact = new S3Artifact(s3, task.artifact.name, task.artifact.location);
  const paths = await artifact.files();
  if (paths.length === 0) throw new ArtifactInvalidError(`artifact ${task.artifact.name} at s3://${task.artifact.location} holds no file`);
  const put = (key: string, body: Uint8Array, type: string) => {
    const input: PutObjectCommandInput = { Bucket: task.bucket, Key: key, Body: body, ContentType: type };
    if (task.cannedAcl) input.ACL = task.cannedAcl as ObjectCannedACL;
    if (task.cacheControl) input.CacheControl = task.cacheControl;
    if (task.kmsEncryptionKeyArn) {
      input.ServerSideEncryption = 'aws:kms';
      input.SSEKMSKeyId = task.kmsEncryptionKeyArn;
    }
    return s3.send(new PutObjectCommand(input));
  };

  if (!task.extract) {
    const key = task.objectKey ?? `${task.artifact.name}.zip`;
    const entries = [];
    for (const path of paths) entries.push({ path, data: await artifact.bytes(path) });
    await put(key, zipStored(entries), 'application/zip');
    return { bucket: task.bucket, keys: [key] };
  }

  const base = task.objectKey ? `${task.objectKey.replace(/\/+$/, '')}/` : '';
  const keys = paths.map((path) => `${base}${path}`);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const path = paths[i] as string;
      await put(keys[i] as string, await artifact.bytes(path), contentType(path));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return { bucket: task.bucket, keys };
}
