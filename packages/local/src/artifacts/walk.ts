/**
 * The files of a directory tree in manifest order (sorted by their whole forward-slash path, in code
 * unit order), found a directory at a time: memory holds the listings of the directories on the way
 * down, never the list of every file.
 *
 * A depth-first walk gives whole-path order when each directory's entries are sorted with a `/` after
 * the names of subdirectories: every path under `a/` starts with `a/`, so `a/` against a sibling's name
 * is exactly how the paths under it compare with that sibling (`a-b` < `a/x` < `a0`).
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface Listing {
  /** Forward-slash path of the directory relative to the root, `''` for the root, else ending in `/`. */
  prefix: string;
  entries: Array<{ key: string; entry: Dirent }>;
  next: number;
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

async function list(root: string, prefix: string): Promise<Listing> {
  const entries = (await readdir(join(root, prefix), { withFileTypes: true })).map((entry) => ({
    key: entry.isDirectory() ? `${entry.name}/` : entry.name,
    entry,
  }));
  return { prefix, entries: entries.sort(byKey), next: 0 };
}

export interface WalkOptions {
  /** Leaves out a file, by its path. */
  skip?: (path: string) => boolean;
  /** Leaves out a directory and everything under it, by its path (ending in `/`). */
  skipDir?: (path: string) => boolean;
  /** Where a directory cannot be read: throw (the default), or go on as if it were empty. */
  unreadable?: 'throw' | 'ignore';
  /** `all` (the default): every symbolic link, as a file; `files-only`: a link only when it leads to a regular file. */
  links?: 'all' | 'files-only';
}

/**
 * Every regular file and symbolic link under `root` (a link is not followed, whatever it points to),
 * as forward-slash paths relative to it, sorted.
 */
export async function* walkSorted(root: string, options: WalkOptions = {}): AsyncGenerator<string> {
  const { skip, skipDir, unreadable = 'throw', links = 'all' } = options;
  const listed = (prefix: string) => (unreadable === 'throw' ? list(root, prefix) : list(root, prefix).catch(() => ({ prefix, entries: [], next: 0 })));
  const stack: Listing[] = [await listed('')];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Listing;
    const item = top.entries[top.next++];
    if (item === undefined) {
      stack.pop();
      continue;
    }
    const path = top.prefix + item.key;
    if (item.entry.isDirectory()) {
      if (!skipDir?.(path)) stack.push(await listed(path));
    } else if (item.entry.isFile() || (item.entry.isSymbolicLink() && (links === 'all' || (await leadsToFile(join(root, path)))))) {
      if (!skip?.(path)) yield path;
    }
  }
}

const leadsToFile = (path: string) =>
  stat(path).then(
    (found) => found.isFile(),
    () => false,
  );
