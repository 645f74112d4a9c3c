/**
 * Artifacts on disk: `.stepline/artifacts/<pipeline>/<execution>/<artifact>/`, each with a
 * `manifest.json` listing every file and its SHA-256. An artifact is written once; whoever consumes it
 * verifies the manifest first, so a file changed or removed after the producer finished is caught.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ArtifactInvalidError, artifactPrefix, MANIFEST_FILE, ManifestCheck } from '@stepline/core';
import { type DigestTable, filePool } from './file-pool';
import { readManifest, writeManifest } from './manifest-file';

export interface ArtifactFile {
  path: string;
  sha256: string;
  size: number;
}

/** An artifact checked against its manifest: its files' paths, sorted (the manifest's order). */
export interface CheckedArtifact {
  paths: readonly string[];
}

/** SHA-256 (hex) of a file's content. */
export async function sha256File(file: string): Promise<string> {
  const [digest] = await filePool().hash([file], 'follow');
  return digest?.sha256 ?? '';
}

/** Every regular file under a directory, with forward-slash paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() || entry.isSymbolicLink()) out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * Hashes files in the file pool (a symbolic link by the path it holds, so a link to nothing, or
 * outside, is an artifact file like any other).
 */
export async function hashFiles(dir: string, paths?: readonly string[]): Promise<ArtifactFile[]> {
  const files = paths ?? (await listFiles(dir));
  const digests = await filePool().hashEach(files.length, (i) => join(dir, files[i] ?? ''), 'keep');
  return files.map((path, i) => ({ path, sha256: digests.sha256(i), size: digests.size(i) }));
}

export class LocalArtifactStore {
  constructor(readonly root: string) {}

  dir(pipeline: string, executionId: string, artifact: string): string {
    return join(this.root, artifactPrefix(pipeline, executionId, artifact));
  }

  exists(pipeline: string, executionId: string, artifact: string): boolean {
    return existsSync(join(this.dir(pipeline, executionId, artifact), MANIFEST_FILE));
  }

  /** A fresh directory to write an artifact's files into, before it is sealed. */
  async prepare(pipeline: string, executionId: string, artifact: string): Promise<string> {
    if (this.exists(pipeline, executionId, artifact)) {
      throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId} is already written; artifacts are written once`);
    }
    const dir = this.dir(pipeline, executionId, artifact);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Writes the manifest of what the directory holds (hashing it unless the producer already did), and
   * answers how many files it lists. `files` must be sorted by path, as {@link hashFiles} gives them.
   */
  async seal(pipeline: string, executionId: string, artifact: string, files?: readonly ArtifactFile[], now = new Date()): Promise<{ files: number }> {
    const dir = this.dir(pipeline, executionId, artifact);
    if (this.exists(pipeline, executionId, artifact)) throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId} is already written`);
    const listed = files ?? (await hashFiles(dir));
    await writeManifest(
      join(dir, MANIFEST_FILE),
      { artifact, pipeline, executionId, createdAt: now.toISOString() },
      listed.length,
      (i) => listed[i] as ArtifactFile,
    );
    return { files: listed.length };
  }

  /** Reads and checks an artifact: every listed file present and unchanged, nothing added. */
  async verify(pipeline: string, executionId: string, artifact: string): Promise<CheckedArtifact> {
    const dir = this.written(pipeline, executionId, artifact);
    const present = (await listFiles(dir)).filter((p) => p !== MANIFEST_FILE);
    const digests = await filePool().hashEach(present.length, (i) => join(dir, present[i] ?? ''), 'keep');
    await this.check(dir, artifact, executionId, present, digests);
    return { paths: present };
  }

  /**
   * Copies an artifact's files (not the manifest) into `dest`, verifying them as they are copied: each
   * file is read once, and what is checked against the manifest is what `dest` receives. Reflinks where
   * the filesystem has them, never hard links: whoever works in `dest` may change the files.
   */
  async copyTo(pipeline: string, executionId: string, artifact: string, dest: string): Promise<CheckedArtifact> {
    const dir = this.written(pipeline, executionId, artifact);
    const present = (await listFiles(dir)).filter((p) => p !== MANIFEST_FILE);
    await mkdir(dest, { recursive: true });
    const digests = await filePool()
      .copyEach(present.length, (i) => ({ from: join(dir, present[i] ?? ''), to: join(dest, present[i] ?? '') }), 'keep')
      .catch((error: unknown) => {
        throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId} could not be copied: ${(error as Error).message}`, { cause: error });
      });
    await this.check(dir, artifact, executionId, present, digests);
    return { paths: present };
  }

  /** The artifact's directory, once its manifest exists. */
  private written(pipeline: string, executionId: string, artifact: string): string {
    const dir = this.dir(pipeline, executionId, artifact);
    if (!existsSync(join(dir, MANIFEST_FILE))) {
      throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId} was never written (no ${MANIFEST_FILE} in ${dir})`);
    }
    return dir;
  }

  /** The manifest, read as it streams, against the files present (sorted) and their digests. */
  private async check(dir: string, artifact: string, executionId: string, present: readonly string[], digests: DigestTable): Promise<void> {
    // Each digest's hex is made as the merge reaches it, and dropped after.
    const check = new ManifestCheck(present, (i) => digests.sha256(i));
    try {
      await readManifest(join(dir, MANIFEST_FILE), (file) => check.entry(file.path, file.sha256));
    } catch (error) {
      throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId}: ${MANIFEST_FILE} is unreadable (${(error as Error).message})`, {
        cause: error,
      });
    }
    const problems = check.finish();
    if (check.count > 0) {
      const shown = problems.map((p) => `${p.path} (${p.problem})`);
      throw new ArtifactInvalidError(
        `artifact ${artifact} of execution ${executionId} does not match its manifest: ${shown.join(', ')}${check.count > shown.length ? ` and ${check.count - shown.length} more` : ''}`,
      );
    }
  }

  async remove(pipeline: string, executionId: string, artifact: string): Promise<void> {
    await rm(this.dir(pipeline, executionId, artifact), { recursive: true, force: true });
  }
}
