/**
 * Artifacts on disk: `.stepline/artifacts/<pipeline>/<execution>/<artifact>/`, each with a
 * `manifest.json` listing every file and its SHA-256. An artifact is written once; whoever consumes it
 * verifies the manifest first, so a file changed or removed after the producer finished is caught.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ArtifactInvalidError, artifactPrefix, compareManifest, MANIFEST_FILE, type Manifest, ManifestSchema } from '@stepline/core';

export interface ArtifactFile {
  path: string;
  sha256: string;
  size: number;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
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

/** Files hashed at a time: enough to keep the disk busy, well under any open-files limit. */
const HASH_CONCURRENCY = 32;

/**
 * Hashes files (a symbolic link by the path it holds, so a link to nothing, or outside, is an artifact
 * file like any other), a bounded number at a time.
 */
export async function hashFiles(dir: string, paths?: readonly string[]): Promise<ArtifactFile[]> {
  const files = paths ?? (await listFiles(dir));
  const out: ArtifactFile[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      const path = files[i] as string;
      const full = join(dir, path);
      const info = await lstat(full);
      if (info.isSymbolicLink()) {
        const target = await readlink(full);
        out[i] = { path, sha256: createHash('sha256').update(`symlink:${target}`).digest('hex'), size: Buffer.byteLength(target) };
      } else out[i] = { path, sha256: await sha256File(full), size: info.size };
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, files.length) }, worker));
  return out;
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

  /** Writes the manifest of what the directory holds (hashing it unless the producer already did). */
  async seal(pipeline: string, executionId: string, artifact: string, files?: readonly ArtifactFile[], now = new Date()): Promise<Manifest> {
    const dir = this.dir(pipeline, executionId, artifact);
    if (this.exists(pipeline, executionId, artifact)) throw new ArtifactInvalidError(`artifact ${artifact} of execution ${executionId} is already written`);
    const listed = files ?? (await hashFiles(dir));
    const manifest: Manifest = {
      artifact,
      pipeline,
      executionId,
      createdAt: now.toISOString(),
      files: listed.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })),
    };
    await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
    return manifest;
  }

  /** Reads and checks an artifact: every listed file present and unchanged, nothing added. */
  async verify(pipeline: string, executionId: string, artifact: string): Promise<Manifest> {
    const dir = this.dir(pipeline, executionId, artifact);
    let manifest: Manifest;
    try {
      manifest = ManifestSchema.parse(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')));
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new ArtifactInvalidError(
        missing
          ? `artifact ${artifact} of execution ${executionId} was never written (no ${MANIFEST_FILE} in ${dir})`
          : `artifact ${artifact}: ${MANIFEST_FILE} is unreadable`,
        { cause: error },
      );
    }
    const present = (await listFiles(dir)).filter((p) => p !== MANIFEST_FILE);
    const actual = new Map((await hashFiles(dir, present)).map((f) => [f.path, f.sha256]));
    const problems = compareManifest(manifest, actual);
    if (problems.length > 0) {
      const shown = problems.slice(0, 5).map((p) => `${p.path} (${p.problem})`);
      throw new ArtifactInvalidError(
        `artifact ${artifact} of execution ${executionId} does not match its manifest: ${shown.join(', ')}${problems.length > 5 ? ` and ${problems.length - 5} more` : ''}`,
      );
    }
    return manifest;
  }

  /** Verifies an artifact, then copies its files (not the manifest) into `dest`. */
  async copyTo(pipeline: string, executionId: string, artifact: string, dest: string): Promise<Manifest> {
    const manifest = await this.verify(pipeline, executionId, artifact);
    const dir = this.dir(pipeline, executionId, artifact);
    await mkdir(dest, { recursive: true });
    await cp(dir, dest, { recursive: true, verbatimSymlinks: true, filter: (src) => relative(dir, src) !== MANIFEST_FILE });
    return manifest;
  }

  async remove(pipeline: string, executionId: string, artifact: string): Promise<void> {
    await rm(this.dir(pipeline, executionId, artifact), { recursive: true, force: true });
  }
}
