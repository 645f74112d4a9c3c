/**
 * Artifacts on disk: `.stepline/artifacts/<pipeline>/<execution>/<artifact>/`, each with a
 * `manifest.json` listing every file and its SHA-256. An artifact is written once; whoever consumes it
 * verifies the manifest first, so a file changed or removed after the producer finished is caught.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ArtifactInvalidError, artifactPrefix, compareWithManifest, MANIFEST_FILE } from '@stepline/core';
import { type FileDigest, filePool } from './file-pool';
import { readManifest, writeManifest } from './manifest-file';
import { walkSorted } from './walk';

export interface ArtifactFile {
  path: string;
  sha256: string;
  size: number;
}

/** An artifact checked against its manifest: every listed file is there, unchanged, and nothing else. */
export interface CheckedArtifact {
  files: number;
}

/** SHA-256 (hex) of a file's content. */
export async function sha256File(file: string): Promise<string> {
  const [digest] = await filePool().hash([file], 'follow');
  return digest?.sha256 ?? '';
}

/** Every regular file and symbolic link under a directory, with forward-slash paths relative to it, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  return collected(walkSorted(dir));
}

/**
 * Hashes the files under a directory in the file pool as they are found, sorted by path (a symbolic
 * link by the path it holds, so a link to nothing, or outside, is an artifact file like any other).
 */
function hashTree(dir: string, skip?: (path: string) => boolean): AsyncGenerator<ArtifactFile> {
  return digested(filePool().hashStream(walkSorted(dir, { skip }), (p) => join(dir, p), 'keep'));
}

/** Only the manifest itself, at the artifact's top, is not one of its files. */
const notManifest = (path: string) => path === MANIFEST_FILE;

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
    await rm(this.partialManifest(pipeline, executionId, artifact), { force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Writes the manifest of what the directory holds, from `files` (sorted by path, as the producer
   * hashed them while writing them) or else by hashing the directory, and answers how many files it
   * lists. Memory does not grow with the number of files: entries are written as they come.
   */
  async seal(
    pipeline: string,
    executionId: string,
    artifact: string,
    files?: AsyncIterable<ArtifactFile> | Iterable<ArtifactFile>,
    now = new Date(),
  ): Promise<{ files: number }> {
    const dir = this.dir(pipeline, executionId, artifact);
    if (this.exists(pipeline, executionId, artifact)) throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId} is already written`);
    const count = await writeManifest(
      join(dir, MANIFEST_FILE),
      this.partialManifest(pipeline, executionId, artifact),
      { artifact, pipeline, executionId, createdAt: now.toISOString() },
      files ?? hashTree(dir, notManifest),
    );
    return { files: count };
  }

  /** Reads and checks an artifact: every listed file present and unchanged, nothing added. */
  async verify(pipeline: string, executionId: string, artifact: string): Promise<CheckedArtifact> {
    const dir = this.written(pipeline, executionId, artifact);
    return this.check(dir, artifact, executionId, hashTree(dir, notManifest), 'read');
  }

  /**
   * Copies an artifact's files (not the manifest) into `dest`, verifying them as they are copied: each
   * file is read once, and what is checked against the manifest is what `dest` receives. Reflinks where
   * the filesystem has them, never hard links: whoever works in `dest` may change the files.
   */
  async copyTo(pipeline: string, executionId: string, artifact: string, dest: string): Promise<CheckedArtifact> {
    return this.copyChecked(pipeline, executionId, artifact, dest, false);
  }

  /**
   * An execution's artifact as another execution's (a rollback's inputs): both are write-once, so the
   * files are hard links where the filesystem allows, verified as they are made, and the new manifest
   * lists what the checked one listed: each file is read once, and none is written.
   */
  async carry(pipeline: string, fromExecution: string, toExecution: string, artifact: string): Promise<{ files: number }> {
    const dest = await this.prepare(pipeline, toExecution, artifact);
    await this.copyChecked(pipeline, fromExecution, artifact, dest, true);
    return this.seal(pipeline, toExecution, artifact, readManifest(join(this.dir(pipeline, fromExecution, artifact), MANIFEST_FILE)));
  }

  private async copyChecked(pipeline: string, executionId: string, artifact: string, dest: string, link: boolean): Promise<CheckedArtifact> {
    const dir = this.written(pipeline, executionId, artifact);
    await mkdir(dest, { recursive: true });
    const copies = filePool().copyStream(walkSorted(dir, { skip: notManifest }), (path) => ({ from: join(dir, path), to: join(dest, path), link }), 'keep');
    return this.check(dir, artifact, executionId, digested(copies), 'copied');
  }

  /**
   * Whether `path` names one of the artifact's files. Once {@link verify} passed, the files in the
   * directory are exactly the manifest's, so it is asked of the directory, not of the manifest.
   */
  async holds(pipeline: string, executionId: string, artifact: string, path: string): Promise<boolean> {
    if (path === MANIFEST_FILE || posix.isAbsolute(path) || posix.normalize(path) !== path || path.split('/').includes('..')) return false;
    // Each directory on the way must be one, not a link to one: the artifact lists no file through a link.
    let at = this.dir(pipeline, executionId, artifact);
    const parts = path.split('/');
    for (const [i, part] of parts.entries()) {
      at = join(at, part);
      const found = await lstat(at).catch(() => undefined);
      if (!found) return false;
      if (i === parts.length - 1) return found.isFile() || found.isSymbolicLink();
      if (!found.isDirectory()) return false;
    }
    return false;
  }

  /** The artifact's directory, once its manifest exists. */
  private written(pipeline: string, executionId: string, artifact: string): string {
    const dir = this.dir(pipeline, executionId, artifact);
    if (!existsSync(join(dir, MANIFEST_FILE))) {
      throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId} was never written (no ${MANIFEST_FILE} in ${dir})`);
    }
    return dir;
  }

  /** Beside the artifact's directory, never in it; artifact names have no dots, so this is no artifact's name. */
  private partialManifest(pipeline: string, executionId: string, artifact: string): string {
    return join(this.root, pipeline, executionId, `.${artifact}.${MANIFEST_FILE}.partial`);
  }

  /** The manifest, read as it streams, merged with the files present as they are hashed or copied. */
  private async check(
    dir: string,
    artifact: string,
    executionId: string,
    present: AsyncIterable<ArtifactFile>,
    verb: 'read' | 'copied',
  ): Promise<CheckedArtifact> {
    const name = `artifact ${artifact} of execution ${executionId}`;
    let files = 0;
    const listed = async function* () {
      try {
        for await (const file of readManifest(join(dir, MANIFEST_FILE))) {
          files++;
          yield file;
        }
      } catch (error) {
        throw new ArtifactInvalidError(`${name}: ${MANIFEST_FILE} is unreadable (${(error as Error).message})`, { cause: error });
      }
    };
    const found = async function* () {
      try {
        yield* present;
      } catch (error) {
        if (error instanceof ArtifactInvalidError) throw error;
        throw new ArtifactInvalidError(`${name} could not be ${verb}: ${(error as Error).message}`, { cause: error });
      }
    };
    const { problems, count } = await compareWithManifest(listed(), found());
    if (count > 0) {
      const shown = problems.map((p) => `${p.path} (${p.problem})`);
      throw new ArtifactInvalidError(
        `${name} does not match its manifest: ${shown.join(', ')}${count > shown.length ? ` and ${count - shown.length} more` : ''}`,
      );
    }
    return { files };
  }

  async remove(pipeline: string, executionId: string, artifact: string): Promise<void> {
    await rm(this.dir(pipeline, executionId, artifact), { recursive: true, force: true });
  }
}

/** A pool stream's items as files with their digests. */
async function* digested(stream: AsyncIterable<[string, FileDigest]>): AsyncGenerator<ArtifactFile> {
  for await (const [path, digest] of stream) yield { path, ...digest };
}

/** Every item of a stream, in a list (for what is known to be small, or must be whole). */
async function collected<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
