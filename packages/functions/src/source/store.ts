/**
 * Stores a commit as the source action's output artifact, as CodePipeline stores every source: the tree
 * of the commit under `<pipeline>/<execution>/<artifact>/` in the artifact bucket, with a stepline
 * `manifest.json` (every file and its SHA-256), written last. Builds read it as a secondary (or, for a
 * `project:` of another repository, primary) S3 folder source; invokes and deploys read its files.
 *
 * Every object is written with `If-None-Match: *`: a retried Task finds what an earlier attempt stored
 * (412) and goes on; an artifact whose manifest exists is complete and is left as it is.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { artifactPrefix, ErrorName, type GitHost, MANIFEST_FILE, type Manifest, SteplineError } from '@stepline/core';
import { downloadArchive, type GitHostApiOptions } from './archive';
import { readTar } from './tar';

/** Where an artifact goes. */
export interface ArtifactTarget {
  s3: S3Client;
  bucket: string;
  pipeline: string;
  executionId: string;
  artifact: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Objects written at once. @default 8 */
  concurrency?: number;
}

export interface StoreSourceOptions extends ArtifactTarget {
  /** Where the repository lives; its tarball endpoint is the host's own (see ./archive.ts). */
  host: GitHost;
  api: GitHostApiOptions;
  repository: string;
  commitId: string;
}

export interface StoredSource {
  location: string;
  files: number;
  /** Whether an earlier attempt had stored it already. */
  existing: boolean;
}

const status = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export function storeSourceArtifact(options: StoreSourceOptions): Promise<StoredSource> {
  return storeArtifact(options, async () => {
    const { files, skipped } = readTar(await downloadArchive(options.host, options.api, options.repository, options.commitId));
    if (skipped.length > 0) options.log?.('links and special files are not stored', { skipped: skipped.slice(0, 20), count: skipped.length });
    return files;
  });
}

/**
 * Writes an artifact's files, then its manifest, unless an earlier attempt completed it; `files` is
 * only read when the artifact is not there yet.
 */
export async function storeArtifact(options: ArtifactTarget, files: () => Promise<Array<{ path: string; data: Uint8Array }>>): Promise<StoredSource> {
  const { s3, bucket } = options;
  const prefix = artifactPrefix(options.pipeline, options.executionId, options.artifact);
  const location = `${bucket}/${prefix}`;
  const manifestKey = `${prefix}${MANIFEST_FILE}`;
  try {
    const existing = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }));
    const manifest = JSON.parse((await existing.Body?.transformToString('utf8')) ?? '{}') as Partial<Manifest>;
    options.log?.('the source artifact was stored by an earlier attempt', { location });
    return { location, files: manifest.files?.length ?? 0, existing: true };
  } catch (error) {
    if (status(error) !== 404 && (error as Error).name !== 'NoSuchKey') throw transient(error, `reading s3://${bucket}/${manifestKey}`);
  }

  const entries: Manifest['files'] = [];
  const queue = [...(await files())];
  const put = async (key: string, body: Uint8Array | string, contentType?: string) => {
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, IfNoneMatch: '*', ...(contentType && { ContentType: contentType }) }));
    } catch (error) {
      // 412: stored by an earlier attempt of this Task.
      if (status(error) !== 412) throw transient(error, `writing s3://${bucket}/${key}`);
    }
  };
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      await put(`${prefix}${file.path}`, file.data);
      entries.push({ path: file.path, sha256: createHash('sha256').update(file.data).digest('hex'), size: file.data.length });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest: Manifest = {
    artifact: options.artifact,
    pipeline: options.pipeline,
    executionId: options.executionId,
    createdAt: new Date().toISOString(),
    files: entries,
  };
  await put(manifestKey, JSON.stringify(manifest), 'application/json');
  options.log?.('artifact stored', { location, files: entries.length });
  return { location, files: entries.length, existing: false };
}

/** Throttling and server errors of S3 may pass: the Task retries Stepline.Transient. */
function transient(error: unknown, what: string): unknown {
  const code = status(error);
  const name = (error as Error).name;
  if ((code !== undefined && code >= 500) || name === 'SlowDown' || name === 'ThrottlingException')
    return new SteplineError(ErrorName.Transient, `S3 stayed unavailable ${what}`, { cause: error });
  return error;
}
