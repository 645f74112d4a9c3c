/**
 * Output artifacts as CodeBuild's UPLOAD_ARTIFACTS phase assembles them: `files` globs relative to
 * `base-directory` (else CODEBUILD_SRC_DIR), minus `exclude-paths`, each kept at its path relative to
 * the base directory, or at its bare name with `discard-paths: yes`. Locally "uploading" is copying to
 * a directory, and every file is listed with its SHA-256.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.artifacts
 */
import { join, posix, resolve } from 'node:path';
import { filePool } from '../artifacts/file-pool';
import { type MatchedFile, matchFiles } from './files';

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
  const collisions: string[] = [];
  // Paths relative to the base are unique and already sorted; only bare names can collide.
  let chosen: readonly MatchedFile[] = matched;
  if (request.discardPaths) {
    const byPath = new Map<string, string>();
    for (const file of matched) {
      const path = posix.basename(file.relative);
      if (byPath.has(path)) collisions.push(path);
      byPath.set(path, file.absolute);
    }
    chosen = [...byPath]
      .map(([relative, absolute]) => ({ relative, absolute }))
      .sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
  }
  // Each file read once: copied and hashed as it streams (a link is copied as the file it points to).
  const digests =
    destination === undefined
      ? await filePool().hashEach(chosen.length, (i) => chosen[i]?.absolute ?? '', 'follow')
      : await filePool().copyEach(
          chosen.length,
          (i) => {
            const { relative = '', absolute = '' } = chosen[i] ?? {};
            return { from: absolute, to: join(destination, relative) };
          },
          'follow',
        );
  const files = chosen.map(({ relative }, i): ArtifactFile => ({ path: relative, sha256: digests.sha256(i), size: digests.size(i) }));
  return { files, collisions };
}
