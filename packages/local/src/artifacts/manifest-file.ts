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
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Manifest, type ManifestFile, ManifestFileSchema, ManifestSchema } from '@stepline/core';

export type ManifestHeader = Omit<Manifest, 'files'>;

/** Text is handed to the file in pieces of about this many characters. */
const PIECE = 1 << 20;

/** Writes a new manifest (fails if one exists): the header, then each file as `file(i)` gives it. */
export async function writeManifest(path: string, header: ManifestHeader, count: number, file: (i: number) => ManifestFile): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    const { artifact, pipeline, executionId, createdAt } = header;
    let text = `${JSON.stringify({ artifact, pipeline, executionId, createdAt }).slice(0, -1)},"files":[\n`;
    for (let i = 0; i < count; i++) {
      const { path: p, sha256, size } = file(i);
      text += `${JSON.stringify({ path: p, sha256, size })}${i < count - 1 ? ',' : ''}\n`;
      if (text.length >= PIECE) {
        await handle.write(text);
        text = '';
      }
    }
    await handle.write(`${text}]}\n`);
  } finally {
    await handle.close();
  }
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
 * Reads a manifest, handing each file entry to `onFile` in the order written, and resolves with the
 * header. Throws `ENOENT` as it comes when there is no manifest, else {@link ManifestUnreadableError}.
 */
export async function readManifest(path: string, onFile: (file: ManifestFile) => void): Promise<ManifestHeader> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  let header: ManifestHeader | undefined;
  let number = 0;
  let closed = false;
  try {
    for await (const line of lines) {
      number++;
      if (header === undefined) {
        if (!line.endsWith('"files":[')) return await readWhole(path, onFile);
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
      onFile(parseLine(line.endsWith(',') ? line.slice(0, -1) : line, number, (v) => ManifestFileSchema.parse(v)));
    }
  } finally {
    lines.close();
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
async function readWhole(path: string, onFile: (file: ManifestFile) => void): Promise<ManifestHeader> {
  const { files, ...header } = parseLine(await readFile(path, 'utf8'), 1, (v) => ManifestSchema.parse(v));
  for (const file of files) onFile(file);
  return header;
}
