/**
 * `manifest.json` on disk, written and read a file entry at a time so that memory does not grow with
 * the number of files. The text is ordinary JSON (the {@link Manifest} shape), one file entry a line:
 *
 * ```
 * {"artifact":"Src","pipeline":"web","executionId":"…","createdAt":"…","files":[
 * {"path":"a.txt","sha256":"…","size":3},
 * {"path":"b.txt","sha256":"…","size":5}
 * ]}
 * ```
 *
 * A manifest in another layout (an older, indented one) is read whole instead.
 */
import { createReadStream, existsSync } from 'node:fs';
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Manifest, type ManifestFile, ManifestFileSchema, ManifestSchema } from '@stepline/core';

export type ManifestHeader = Omit<Manifest, 'files'>;

/** What `link()` answers where the filesystem has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Text is handed to the file in pieces of about this many characters. */
const PIECE = 1 << 20;

/** Entries handed to {@link writeManifest} out of path order: a merge against them would be wrong. */
export class ManifestOrderError extends Error {
  constructor(readonly path: string) {
    super(`manifest entries are not sorted by path at ${path}`);
    this.name = 'ManifestOrderError';
  }
}

/**
 * Writes a new manifest at `path` (failing if one exists) from `files`, sorted by path, taken as they
 * come: the text goes to `partial` first and becomes `path` by a hard link once complete, so a reader
 * never sees half a manifest, and an artifact with a manifest is always a whole one. Resolves with the
 * number of files listed.
 */
export async function writeManifest(
  path: string,
  partial: string,
  header: ManifestHeader,
  files: AsyncIterable<ManifestFile> | Iterable<ManifestFile>,
): Promise<number> {
  const handle = await open(partial, 'w');
  let count = 0;
  try {
    const { artifact, pipeline, executionId, createdAt } = header;
    let text = `${JSON.stringify({ artifact, pipeline, executionId, createdAt }).slice(0, -1)},"files":[\n`;
    // Every line but the last ends with a comma: an entry is written once the next one is known.
    let held: string | undefined;
    let last: string | undefined;
    for await (const { path: p, sha256, size } of files) {
      if (last !== undefined && !(last < p)) throw new ManifestOrderError(p);
      last = p;
      if (held !== undefined) text += `${held},\n`;
      held = JSON.stringify({ path: p, sha256, size });
      count++;
      if (text.length >= PIECE) {
        await handle.write(text);
        text = '';
      }
    }
    await handle.write(`${text}${held === undefined ? '' : `${held}\n`}]}\n`);
  } catch (error) {
    await handle.close();
    await rm(partial, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await link(partial, path);
  } catch (error) {
    // A filesystem without hard links (FAT, some network mounts): a rename is as atomic, only not
    // refused by an existing manifest, so that is checked first (an artifact has one writer).
    if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    if (existsSync(path)) throw Object.assign(new Error(`EEXIST: file already exists, link '${partial}' -> '${path}'`), { code: 'EEXIST' });
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return count;
}

/** A manifest that is not what its writer writes; `line` is 1-based. */
export class ManifestUnreadableError extends Error {
  constructor(
    readonly line: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`line ${line}: ${message}`, options);
    this.name = 'ManifestUnreadableError';
  }
}

/**
 * Reads a manifest, yielding its file entries in the order written, and returns its header. Throws
 * `ENOENT` as it comes when there is no manifest, else {@link ManifestUnreadableError}.
 */
export async function* readManifest(path: string): AsyncGenerator<ManifestFile, ManifestHeader> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let header: ManifestHeader | undefined;
  let number = 0;
  let closed = false;
  /** Entries must be sorted (a consumer merges them with the files present), which is checked as they come. */
  let last: string | undefined;
  try {
    for await (const line of lines) {
      number++;
      if (header === undefined) {
        if (!line.endsWith('"files":[')) return yield* readWhole(path);
        header = parseLine(`${line}]}`, number, (v) => ManifestSchema.parse(v));
        continue;
      }
      if (closed) {
        if (line.trim() !== '') throw new ManifestUnreadableError(number, 'text after the end of the manifest');
        continue;
      }
      if (line === ']}') {
        closed = true;
        continue;
      }
      const file = parseLine(line.endsWith(',') ? line.slice(0, -1) : line, number, (v) => ManifestFileSchema.parse(v));
      if (last !== undefined && !(last < file.path)) throw new ManifestUnreadableError(number, `entries are not sorted by path at ${file.path}`);
      last = file.path;
      yield file;
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (!header || !closed) throw new ManifestUnreadableError(number, 'the manifest ends before its list of files does');
  const { artifact, pipeline, executionId, createdAt } = header;
  return { artifact, pipeline, executionId, createdAt };
}

function parseLine<T>(text: string, line: number, check: (value: unknown) => T): T {
  try {
    return check(JSON.parse(text));
  } catch (error) {
    throw new ManifestUnreadableError(line, (error as Error).message.split('\n')[0] ?? 'not JSON', { cause: error });
  }
}

/** A manifest in another layout: parsed whole. */
async function* readWhole(path: string): AsyncGenerator<ManifestFile, ManifestHeader> {
  const { files, ...header } = parseLine(await readFile(path, 'utf8'), 1, (v) => ManifestSchema.parse(v));
  // Sorted here: older writers did not always sort (a batch's combined artifact, in the order its builds ended).
  yield* files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return header;
}
