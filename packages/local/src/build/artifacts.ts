/**
 * Output artifacts as CodeBuild's UPLOAD_ARTIFACTS phase assembles them: `files` globs relative to
 * `base-directory` (else CODEBUILD_SRC_DIR), minus `exclude-paths`, each kept at its path relative to
 * the base directory, or at its bare name with `discard-paths: yes`. Locally "uploading" is copying to
 * a directory, and every file is listed with its SHA-256.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.artifacts
 */
import { join, posix, resolve } from 'node:path';
import { type FileDigest, filePool } from '../artifacts/file-pool';
import { matchFiles } from './files';

/** An artifact section with `$VAR`s already expanded. */
export interface ArtifactRequest {
  files: string[];
  baseDirectory?: string;
  discardPaths: boolean;
  excludePaths: string[];
}

export interface ArtifactFile {
  /** Where the file sits inside the artifact (POSIX). */
  path: string;
  sha256: string;
  size: number;
}

export interface AssembledArtifact {
  files: ArtifactFile[];
  /** Two files that `discard-paths` gives the same name: the later one is kept. */
  collisions: string[];
}

/**
 * Assembles one artifact from the source directory, copying its files under `destination` when one
 * is given. Resolves with no files when nothing matches; CodeBuild fails the upload then, and so
 * does the caller.
 */
export async function assembleArtifact(
  request: ArtifactRequest,
  sourceDir: string,
  destination: string | undefined,
  skipDirs: readonly string[],
): Promise<AssembledArtifact> {
  const base = resolve(sourceDir, request.baseDirectory ?? '.');
  const matched = matchFiles(base, request.files, { exclude: request.excludePaths, skipDirs });
  const byPath = new Map<string, string>();
  const collisions: string[] = [];
  for (const file of matched) {
    const path = request.discardPaths ? posix.basename(file.relative) : file.relative;
    if (byPath.has(path)) collisions.push(path);
    byPath.set(path, file.absolute);
  }
  const chosen = [...byPath].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Each file read once: copied and hashed as it streams (a link is copied as the file it points to).
  const digests =
    destination === undefined
      ? await filePool().hashEach(chosen.length, (i) => chosen[i]?.[1] ?? '', 'follow')
      : await filePool().copyEach(
          chosen.length,
          (i) => {
            const [path = '', absolute = ''] = chosen[i] ?? [];
            return { from: absolute, to: join(destination, path) };
          },
          'follow',
        );
  const files = chosen.map(([path], i): ArtifactFile => ({ path, ...(digests[i] as FileDigest) }));
  return { files, collisions };
}
