/**
 * Reads the files of a tar archive (ustar, with pax and GNU long names), as GitHub's tarball endpoint
 * serves them: every path under one top directory (`<owner>-<repo>-<sha>/`), which is dropped.
 * Directories are implied by the files; links and devices are skipped and reported.
 * @see https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06
 */

export interface TarFile {
  path: string;
  data: Uint8Array;
  /** Unix permission bits (0o755 for executables). */
  mode: number;
}

export interface TarContents {
  files: TarFile[];
  /** Entries that are not regular files (symbolic and hard links, devices), by path. */
  skipped: string[];
}

const BLOCK = 512;
const decoder = new TextDecoder();

const field = (block: Uint8Array, offset: number, length: number) => {
  const bytes = block.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
};
const octal = (block: Uint8Array, offset: number, length: number) => Number.parseInt(field(block, offset, length).trim() || '0', 8);

/** pax extended header records: `<length> <key>=<value>\n`. */
function paxRecords(data: Uint8Array): Record<string, string> {
  const text = decoder.decode(data);
  const records: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (match?.[1] !== undefined) records[match[1]] = match[2] ?? '';
  }
  return records;
}

export function readTar(archive: Uint8Array): TarContents {
  const files: TarFile[] = [];
  const skipped: string[] = [];
  let offset = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] ?? 0);
    const data = archive.subarray(offset + BLOCK, offset + BLOCK + size);
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'g') continue;
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    const prefix = field(header, 345, 155);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    pax = {};
    // GitHub puts everything under one top directory.
    const path = name.split('/').slice(1).join('/');
    if (type === '5' || path === '' || path.endsWith('/')) continue;
    if (type !== '0' && type !== '\0' && type !== '7') {
      skipped.push(path);
      continue;
    }
    if (path.split('/').some((part) => part === '..' || part === '')) throw new Error(`tar entry ${name} leaves the archive's directory`);
    files.push({ path, data: data.slice(), mode: octal(header, 100, 8) & 0o777 });
  }
  return { files, skipped };
}
