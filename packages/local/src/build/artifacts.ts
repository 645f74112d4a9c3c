/**
 * Output artifacts as CodeBuild's UPLOAD_ARTIFACTS phase assembles them: `files` globs relative to
 * `base-directory` (else CODEBUILD_SRC_DIR), minus `exclude-paths`, each kept at its path relative to
 * the base directory, or at its bare name with `discard-paths: yes`. Locally "uploading" is copying to
 * a directory, and every file is listed with its SHA-256 as it is copied.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.artifacts
 */
import { join, posix, resolve } from 'node:path';
import { filePool } from '../artifacts/file-pool';
import { type MatchedFile, streamMatches } from './files';

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
  /** How many files the artifact has. */
  files: number;
  /** Two files that `discard-paths` gives the same name: the later one is kept. */
  collisions: string[];
}

/**
 * Takes an artifact's files as they are copied (sorted by path, each with its digest) and resolves once
 * it has read them all: the store sealing them as they come.
 */
export type ArtifactSink = (files: AsyncIterable<ArtifactFile>) => Promise<unknown>;

/**
 * Assembles one artifact from the source directory, copying its files under `destination` when one
 * is given and handing them to `sink` as they are copied, or else counting the files that match.
 * Answers no files when nothing matches; CodeBuild fails the upload then, and so does the caller.
 * Files stream from the match to the copy to the sink: memory does not grow with their number, but
 * with `discard-paths`, whose bare names are collected to find those that collide.
 */
export async function assembleArtifact(
  request: ArtifactRequest,
  sourceDir: string,
  destination: string | undefined,
  skipDirs: readonly string[],
  sink: ArtifactSink = drain,
): Promise<AssembledArtifact> {
  const base = resolve(sourceDir, request.baseDirectory ?? '.');
  const matched = streamMatches(base, request.files, { exclude: request.excludePaths, skipDirs });
  const collisions: string[] = [];
  // Paths relative to the base are unique and already sorted; only bare names can collide.
  let chosen: AsyncIterable<MatchedFile> | Iterable<MatchedFile> = matched;
  if (request.discardPaths) {
    const byPath = new Map<string, string>();
    for await (const file of matched) {
      const path = posix.basename(file.relative);
      if (byPath.has(path)) collisions.push(path);
      byPath.set(path, file.absolute);
    }
    chosen = [...byPath]
      .map(([relative, absolute]) => ({ relative, absolute }))
      .sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
  }
  let files = 0;
  if (destination === undefined) {
    for await (const _ of chosen) files++;
    return { files, collisions };
  }
  // Each file read once: copied and hashed as it streams (a link is copied as the file it points to).
  const copies = filePool().copyStream(chosen, ({ relative, absolute }) => ({ from: absolute, to: join(destination, relative) }), 'follow');
  await sink(
    (async function* () {
      for await (const [{ relative }, digest] of copies) {
        files++;
        yield { path: relative, ...digest };
      }
    })(),
  );
  return { files, collisions };
}

async function drain(files: AsyncIterable<ArtifactFile>): Promise<void> {
  for await (const _ of files);
}
