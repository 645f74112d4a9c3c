/**
 * Finds the files a buildspec names with globs (`artifacts.files`, `cache.paths`, `reports.*.files`),
 * matched the way CodeBuild matches them: relative to a base directory, `**` across directories,
 * dotfiles included, files only (a directory is selected through `dir/**\/*`).
 */
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { walkSorted } from '../artifacts/walk';

export interface MatchedFile {
  readonly absolute: string;
  /** POSIX path relative to the base directory; for a file outside it, its absolute path without the leading `/`. */
  readonly relative: string;
}

/** A match holds its relative path only; the absolute one is made when asked for (one string a file, not two). */
class Match implements MatchedFile {
  constructor(
    private readonly root: string,
    readonly relative: string,
  ) {}

  get absolute(): string {
    return this.root === '/' ? `/${this.relative}` : join(this.root, this.relative);
  }
}

export interface MatchOptions {
  /** Globs relative to the base directory; files they match are left out. */
  exclude?: readonly string[];
  /** Directories never searched (stepline's own `.stepline` when a build runs in place). */
  skipDirs?: readonly string[];
}

const GLOB_OPTIONS = { dot: true } as const;

/** Where one pattern is searched from, and how a file found there is tested and named. */
interface PatternSearch {
  /** The base directory, or `/` for an absolute pattern outside it. */
  searchRoot: string;
  /** The deepest directory (or the file) the pattern can only match under. */
  start: string;
  isMatch: (relativeToSearchRoot: string) => boolean;
}

function searchFor(root: string, raw: string): PatternSearch | undefined {
  const pattern = cleanPattern(raw);
  if (pattern === '') return undefined;
  // An absolute pattern inside the base is a relative one; outside it, it is matched from `/`.
  const absolute = isAbsolute(pattern) ? resolve(pattern) : undefined;
  const inside = absolute !== undefined && (absolute === root || absolute.startsWith(root + sep));
  const searchRoot = absolute !== undefined && !inside ? '/' : root;
  const relativePattern = absolute === undefined ? pattern : inside ? toPosix(relative(root, pattern)) : pattern.replace(/^\/+/, '');
  const scan = picomatch.scan(relativePattern);
  return { searchRoot, start: join(searchRoot, scan.isGlob ? scan.base : relativePattern), isMatch: picomatch(relativePattern, GLOB_OPTIONS) };
}

/** A file found from `searchRoot`, named relative to the base, or by its absolute path outside it. */
function matchOf(root: string, searchRoot: string, relativeToSearchRoot: string): Match {
  return searchRoot === root ? new Match(root, relativeToSearchRoot) : new Match('/', relativeToSearchRoot);
}

const excludedBy = (exclude: readonly string[] | undefined) => (exclude && exclude.length > 0 ? picomatch(exclude.map(cleanPattern), GLOB_OPTIONS) : undefined);

/** Every file under `base` matched by one of `patterns`, sorted by path, each once. */
export function matchFiles(base: string, patterns: readonly string[], options: MatchOptions = {}): MatchedFile[] {
  const root = resolve(base);
  const skip = new Set((options.skipDirs ?? []).map((d) => resolve(d)));
  const excluded = excludedBy(options.exclude);
  // One pattern finds each file once; several may find one file twice (kept once, by its absolute path).
  const found = patterns.length > 1 ? new Map<string, MatchedFile>() : undefined;
  const matched: MatchedFile[] = [];
  for (const raw of patterns) {
    const search = searchFor(root, raw);
    if (!search) continue;
    for (const file of walkFiles(search.start, skip)) {
      const rel = toPosix(relative(search.searchRoot, file));
      if (!search.isMatch(rel)) continue;
      const match = matchOf(root, search.searchRoot, rel);
      if (excluded?.(match.relative)) continue;
      if (found) found.set(file, match);
      else matched.push(match);
    }
  }
  return (found ? [...found.values()] : matched).sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
}

/**
 * {@link matchFiles} as a stream, in the same order, found a directory at a time: for artifacts of any
 * size, memory holds the directories on the way down, never the list of matched files.
 */
export async function* streamMatches(base: string, patterns: readonly string[], options: MatchOptions = {}): AsyncGenerator<MatchedFile> {
  const root = resolve(base);
  const skip = new Set((options.skipDirs ?? []).map((d) => resolve(d)));
  const excluded = excludedBy(options.exclude);
  const searches = patterns.map((raw) => searchFor(root, raw)).filter((s) => s !== undefined);
  yield* mergeSorted(searches.map((search) => searchMatches(root, search, skip, excluded)));
}

async function* searchMatches(root: string, search: PatternSearch, skip: ReadonlySet<string>, excluded: ((path: string) => boolean) | undefined) {
  const { searchRoot, start, isMatch } = search;
  const found = await stat(start).catch(() => undefined);
  const keep = (rel: string) => {
    if (!isMatch(rel)) return undefined;
    const match = matchOf(root, searchRoot, rel);
    return excluded?.(match.relative) ? undefined : match;
  };
  if (found?.isFile()) {
    const match = keep(toPosix(relative(searchRoot, start)));
    if (match) yield match;
    return;
  }
  if (!found?.isDirectory() || skip.has(start)) return;
  const prefix = start === searchRoot ? '' : `${toPosix(relative(searchRoot, start))}/`;
  const files = walkSorted(start, { skipDir: (dir) => skip.has(resolve(start, dir)), unreadable: 'ignore', links: 'files-only' });
  for await (const path of files) {
    const match = keep(prefix + path);
    if (match) yield match;
  }
}

/** Sorted streams merged into one, a file found by several kept once. */
async function* mergeSorted(streams: Array<AsyncGenerator<MatchedFile>>): AsyncGenerator<MatchedFile> {
  const heads = await Promise.all(streams.map(async (stream) => ({ stream, next: await stream.next() })));
  for (;;) {
    let least: MatchedFile | undefined;
    for (const head of heads) if (!head.next.done && (least === undefined || head.next.value.relative < least.relative)) least = head.next.value;
    if (least === undefined) return;
    yield least;
    for (const head of heads) {
      while (!head.next.done && head.next.value.relative === least.relative) head.next = await head.stream.next();
    }
  }
}

/** `./dist/*` and `dist/*` are the same pattern; CRLF leftovers and spaces around are not part of it. */
function cleanPattern(pattern: string): string {
  return pattern.trim().replace(/^(?:\.\/)+/, '');
}

const toPosix = (path: string) => path.split(sep).join('/');

/** Files under `start` (or `start` itself when it is a file). Directory symlinks are not followed. */
function* walkFiles(start: string, skip: ReadonlySet<string>): Generator<string> {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(start);
  } catch {
    return;
  }
  if (stat.isFile()) {
    yield start;
    return;
  }
  if (!stat.isDirectory()) return;
  const stack = [start];
  for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
    if (skip.has(dir)) continue;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // Unreadable: CodeBuild would not see it either.
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile()) yield path;
      else if (entry.isSymbolicLink() && isFile(path)) yield path;
    }
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
