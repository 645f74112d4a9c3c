/**
 * The UPLOAD_ARTIFACTS phase: saves `cache.paths`, then assembles the primary artifact and each of
 * `secondary-artifacts`, copying them to the outputs the caller gave. As in CodeBuild, an artifact
 * whose globs match no file fails the phase ("no matching artifact paths found").
 */
import type { Buildspec } from '@stepline/core';
import { type ArtifactFile, assembleArtifact } from './artifacts';
import type { BuildLog } from './build-log';
import { planCache, saveCache } from './cache';
import type { PhaseOutcome } from './command-phase';
import type { ShellSession } from './shell-session';

export interface UploadContext {
  buildspec: Buildspec;
  sourceDir: string;
  session: ShellSession;
  log: BuildLog;
  outputs?: { primary?: string; secondary?: Record<string, string> };
  /** Takes an artifact's files as they are copied to `destination` (see {@link ArtifactSink}). */
  onArtifact?: (destination: string, files: AsyncIterable<ArtifactFile>) => Promise<unknown>;
  cacheDir?: string;
  skipDirs: string[];
}

export interface UploadOutcome extends PhaseOutcome {
  /** Each artifact by name, with its number of files. */
  artifacts: Array<{ name: string; files: number }>;
}

/** What the build's final environment makes of `$VAR` and `$(…)` in buildspec values. */
export async function expandAll(values: readonly string[], ctx: Pick<UploadContext, 'session' | 'sourceDir' | 'log'>): Promise<string[] | undefined> {
  const needs = values.filter((v) => /[$`]/.test(v));
  if (needs.length === 0) return [...values];
  const expanded = await ctx.session.expand(needs, ctx.sourceDir, (text) => ctx.log.line(text.trimEnd()));
  if (!expanded) return undefined;
  const byValue = new Map(needs.map((v, i) => [v, expanded[i] ?? '']));
  return values.map((v) => byValue.get(v) ?? v);
}

export async function uploadArtifacts(ctx: UploadContext): Promise<UploadOutcome> {
  const { buildspec, log } = ctx;
  if (ctx.cacheDir && buildspec.cache.paths.length > 0) saveBuildCache(ctx, ctx.cacheDir);
  const spec = buildspec.artifacts;
  if (!spec) return { status: 'SUCCEEDED', artifacts: [] };

  const sections = [
    { id: undefined, spec, destination: ctx.outputs?.primary },
    ...Object.entries(spec.secondary).map(([id, secondary]) => ({ id, spec: secondary, destination: ctx.outputs?.secondary?.[id] })),
  ];
  const artifacts: UploadOutcome['artifacts'] = [];
  let failure: UploadOutcome['failure'];
  for (const section of sections) {
    const label = section.id === undefined ? 'artifacts' : `secondary artifact ${section.id}`;
    const strings = [section.spec.baseDirectory ?? '', section.spec.name ?? '', ...section.spec.files, ...section.spec.excludePaths];
    const expanded = await expandAll(strings, ctx);
    if (!expanded) {
      failure ??= { message: `could not expand the variables of ${label}` };
      continue;
    }
    const [baseDirectory = '', name = '', ...rest] = expanded;
    const files = rest.slice(0, section.spec.files.length);
    const excludePaths = rest.slice(section.spec.files.length);
    log.line(`Expanding base directory path: ${baseDirectory || '.'}`);
    const { destination } = section;
    const { onArtifact } = ctx;
    const assembled = await assembleArtifact(
      { files, discardPaths: section.spec.discardPaths, excludePaths, ...(baseDirectory ? { baseDirectory } : {}) },
      ctx.sourceDir,
      destination,
      ctx.skipDirs,
      destination !== undefined && onArtifact ? (copied) => onArtifact(destination, copied) : undefined,
    );
    for (const path of assembled.collisions) log.line(`Warning: discard-paths gives two files the name ${path}; the last one is kept`);
    log.line(`Found ${assembled.files} file(s) for ${label}${section.destination ? `, copied to ${section.destination}` : ''}`);
    if (assembled.files === 0) failure ??= { message: `no matching artifact paths found for ${label}` };
    artifacts.push({ name: section.id ?? (name || 'primary'), files: assembled.files });
  }
  return failure ? { status: 'FAILED', failure, artifacts } : { status: 'SUCCEEDED', artifacts };
}

function saveBuildCache(ctx: UploadContext, cacheDir: string): void {
  try {
    const plan = planCache(ctx.buildspec.cache.paths, ctx.sourceDir);
    for (const { pattern, reason } of plan.skipped) ctx.log.line(`Not caching ${pattern}: ${reason}`);
    const saved = saveCache(plan, ctx.sourceDir, cacheDir, ctx.skipDirs);
    ctx.log.line(`Saved ${saved} file(s) to the local cache`);
  } catch (error) {
    // A cache is a shortcut: failing to save one never fails the build.
    ctx.log.line(`Warning: could not save the cache: ${(error as Error).message}`);
  }
}
