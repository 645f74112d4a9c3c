/**
 * Finds the files a buildspec names with globs (`artifacts.files`, `cache.paths`, `reports.*.files`),
 * matched the way CodeBuild matches them: relative to a base directory, `**` across directories,
 * dotfiles included, files only (a directory is selected through `dir/**\/*`).
 */
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';

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

/** Every file under `base` matched by one of `patterns`, sorted by path, each once. */
export function matchFiles(base: string, patterns: readonly string[], options: MatchOptions = {}): MatchedFile[] {
  const root = resolve(base);
  const skip = new Set((options.skipDirs ?? []).map((d) => resolve(d)));
  const excluded = options.exclude && options.exclude.length > 0 ? picomatch(options.exclude.map(cleanPattern), GLOB_OPTIONS) : undefined;
  // One pattern finds each file once; several may find one file twice (kept once, by its absolute path).
  const found = patterns.length > 1 ? new Map<string, MatchedFile>() : undefined;
  const matched: MatchedFile[] = [];
  for (const raw of patterns) {
    const pattern = cleanPattern(raw);
    if (pattern === '') continue;
    // An absolute pattern inside the base is a relative one; outside it, it is matched from `/`.
    const absolute = isAbsolute(pattern) ? resolve(pattern) : undefined;
    const inside = absolute !== undefined && (absolute === root || absolute.startsWith(root + sep));
    const searchRoot = absolute !== undefined && !inside ? '/' : root;
    const relativePattern = absolute === undefined ? pattern : inside ? toPosix(relative(root, pattern)) : pattern.replace(/^\/+/, '');
    const isMatch = picomatch(relativePattern, GLOB_OPTIONS);
    const scan = picomatch.scan(relativePattern);
    const start = join(searchRoot, scan.isGlob ? scan.base : relativePattern);
    for (const file of walkFiles(start, skip)) {
      const rel = toPosix(relative(searchRoot, file));
      if (!isMatch(rel)) continue;
      const reported = searchRoot === root ? rel : toPosix(file).replace(/^\/+/, '');
      if (excluded?.(reported)) continue;
      const match = new Match(searchRoot === root ? root : '/', reported);
      if (found) found.set(file, match);
      else matched.push(match);
    }
  }
  return (found ? [...found.values()] : matched).sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
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
