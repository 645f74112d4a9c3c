/**
 * An S3 deploy action on AWS: the input artifact (`bucket/pipeline/<execution>/<artifact>/`, each file
 * checked against the manifest's SHA-256 before it is written) into the action's bucket, each file under
 * its path (below `objectKey` when given) or as one zip at `objectKey`, with the action's canned ACL,
 * Cache-Control and KMS key, as CodePipeline's S3 deploy action.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3Deploy.html
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, type ObjectCannedACL, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { ArtifactInvalidError, CANNED_ACLS, MANIFEST_FILE, type Manifest, ManifestSchema, zipStored } from '@stepline/core';
import * as z from 'zod';
import { splitLocation } from '../canary/artifact';

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
  const { bucket: artifactBucket, prefix } = splitLocation(task.artifact.location);
  const read = async (path: string): Promise<Uint8Array> => {
    const key = `${prefix}${path}`;
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: artifactBucket, Key: key }));
      return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey')
        throw new ArtifactInvalidError(`artifact ${task.artifact.name} has no ${path} at s3://${artifactBucket}/${key}`, { cause: error });
      throw error;
    }
  };
  const manifestParsed = ManifestSchema.safeParse(JSON.parse(new TextDecoder().decode(await read(MANIFEST_FILE))));
  if (!manifestParsed.success) throw new ArtifactInvalidError(`artifact ${task.artifact.name}: ${MANIFEST_FILE} is not a stepline manifest`);
  const manifest: Manifest = manifestParsed.data;
  const verified = async (entry: Manifest['files'][number]): Promise<Uint8Array> => {
    const data = await read(entry.path);
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== entry.sha256)
      throw new ArtifactInvalidError(`artifact ${task.artifact.name}: ${entry.path} does not match its manifest (sha256 ${sha}, listed ${entry.sha256})`);
    return data;
  };
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
    for (const entry of manifest.files) entries.push({ path: entry.path, data: await verified(entry) });
    await put(key, zipStored(entries), 'application/zip');
    return { bucket: task.bucket, keys: [key] };
  }

  const base = task.objectKey ? `${task.objectKey.replace(/\/+$/, '')}/` : '';
  const keys = manifest.files.map((f) => `${base}${f.path}`);
  let next = 0;
  const worker = async () => {
    while (next < manifest.files.length) {
      const i = next++;
      const entry = manifest.files[i] as Manifest['files'][number];
      await put(keys[i] as string, await verified(entry), contentType(entry.path));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, manifest.files.length) }, worker));
  return { bucket: task.bucket, keys };
}
