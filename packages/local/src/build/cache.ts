/**
 * `cache.paths` kept between runs, as CodeBuild's local cache keeps them: files matching the paths
 * are saved after the build and put back into the next build's source before INSTALL.
 *
 * Only paths inside the source directory are cached. An absolute path elsewhere (`/root/.m2/**\/*`)
 * is this machine's own directory, which outlives every build anyway. A restored file never replaces
 * one the source already has: a build that runs in place keeps its newer files.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-caching.html
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { matchFiles } from './files';

export interface CachePlan {
  /** Patterns relative to the source directory. */
  patterns: string[];
  /** Patterns left out, and why. */
  skipped: Array<{ pattern: string; reason: string }>;
}

/** Splits `cache.paths` (already expanded) into what is cached and what is not. */
export function planCache(paths: readonly string[], sourceDir: string): CachePlan {
  const root = resolve(sourceDir);
  const plan: CachePlan = { patterns: [], skipped: [] };
  for (const path of paths) {
    if (!isAbsolute(path)) plan.patterns.push(path);
    else if (resolve(path).startsWith(root + sep)) plan.patterns.push(relative(root, path));
    else plan.skipped.push({ pattern: path, reason: 'outside the source directory: this machine keeps it between builds by itself' });
  }
  return plan;
}

const filesDir = (cacheDir: string) => join(cacheDir, 'files');

/** Copies cached files into the source; resolves to how many were restored. */
export function restoreCache(plan: CachePlan, sourceDir: string, cacheDir: string): number {
  if (plan.patterns.length === 0) return 0;
  let restored = 0;
  for (const file of matchFiles(filesDir(cacheDir), plan.patterns)) {
    const target = join(sourceDir, file.relative);
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file.absolute, target);
    restored++;
  }
  return restored;
}

/** Replaces the cache with the source's files matching the plan; resolves to how many were saved. */
export function saveCache(plan: CachePlan, sourceDir: string, cacheDir: string, skipDirs: readonly string[]): number {
  if (plan.patterns.length === 0) return 0;
  const files = matchFiles(sourceDir, plan.patterns, { skipDirs: [...skipDirs, cacheDir] });
  // Written aside and swapped in, so that a build stopped half-way never leaves half a cache.
  const next = join(cacheDir, `files.${process.pid}.${Date.now()}`);
  for (const file of files) {
    const target = join(next, file.relative);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file.absolute, target);
  }
  mkdirSync(next, { recursive: true });
  rmSync(filesDir(cacheDir), { recursive: true, force: true });
  renameSync(next, filesDir(cacheDir));
  return files.length;
}
