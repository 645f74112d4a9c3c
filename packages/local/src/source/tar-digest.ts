/**
 * Reads a tar stream as it passes (git archive's output on its way to tar) and hashes each file in it,
 * so that the source artifact's manifest needs no second read of what tar writes. Knows what
 * `git archive` writes: ustar headers with the `prefix` field, pax extended headers (`path`, `linkpath`,
 * `size`) and a global pax header (the commit id); GNU long names are read too.
 * @see https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_01
 */
import { createHash, type Hash } from 'node:crypto';

export interface TarFile {
  /** Forward-slash path as tar writes it. */
  path: string;
  /** SHA-256 (hex) of the content; of `symlink:<target>` for a symbolic link. */
  sha256: string;
  size: number;
}

const BLOCK = 512;

type Kind = 'file' | 'symlink' | 'directory' | 'pax' | 'pax-global' | 'gnu-name' | 'gnu-link' | 'other';

function kindOf(flag: number): Kind {
  switch (String.fromCharCode(flag)) {
    case '\0':
    case '0':
    case '7':
      return 'file';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    case 'x':
      return 'pax';
    case 'g':
      return 'pax-global';
    case 'L':
      return 'gnu-name';
    case 'K':
      return 'gnu-link';
    default:
      return 'other';
  }
}

const text = (block: Buffer, start: number, length: number) => {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
};

function numeric(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  // Base-256 (GNU, for sizes over 8 GiB): the high bit of the first byte is set.
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const digits = text(block, start, length).trim();
  return digits === '' ? 0 : Number.parseInt(digits, 8);
}

/** `"<length> <key>=<value>\n"` records. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number.parseInt(data.subarray(at, space).toString('ascii'), 10);
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

/** Feed it the stream with {@link write}; {@link files} holds every file and link read so far. */
export class TarDigest {
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Bytes of the current entry's data still to come, then its padding. */
  private remaining = 0;
  private padding = 0;
  private hash: Hash | undefined;
  private current: TarFile | undefined;
  /** The data of a pax or GNU long-name entry, collected. */
  private meta: { kind: Kind; chunks: Buffer[] } | undefined;
  private pending: { path?: string; linkpath?: string; size?: number } = {};
  private ended = false;

  /** @param onFile called with each file (and link) as soon as the stream has passed it, in the tar's order */
  constructor(private readonly onFile: (file: TarFile) => void) {}

  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        const part = chunk.subarray(at, at + take);
        this.hash?.update(part);
        this.meta?.chunks.push(Buffer.from(part));
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) this.finishEntry();
      } else if (this.padding > 0) {
        const take = Math.min(this.padding, chunk.length - at);
        this.padding -= take;
        at += take;
      } else {
        const take = Math.min(BLOCK - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.readHeader(this.header);
        }
      }
    }
  }

  private readHeader(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    const kind = kindOf(block[156] ?? 0);
    const prefix = text(block, 345, 155);
    const name = text(block, 0, 100);
    const pending = this.pending;
    const size = pending.size ?? numeric(block, 124, 12);
    const path = (pending.path ?? (prefix ? `${prefix}/${name}` : name)).replace(/\/+$/, '');
    this.remaining = kind === 'directory' || kind === 'symlink' ? 0 : size;
    this.padding = (BLOCK - (this.remaining % BLOCK)) % BLOCK;
    if (kind === 'pax' || kind === 'pax-global' || kind === 'gnu-name' || kind === 'gnu-link') {
      this.meta = { kind, chunks: [] };
    } else {
      this.pending = {};
      if (kind === 'file') {
        this.current = { path, sha256: '', size };
        this.hash = createHash('sha256');
      } else if (kind === 'symlink') {
        const target = pending.linkpath ?? text(block, 157, 100);
        this.onFile({ path, sha256: createHash('sha256').update(`symlink:${target}`).digest('hex'), size: Buffer.byteLength(target) });
      }
    }
    if (this.remaining === 0) this.finishEntry();
  }

  private finishEntry(): void {
    if (this.current && this.hash) {
      this.current.sha256 = this.hash.digest('hex');
      this.onFile(this.current);
    }
    this.current = undefined;
    this.hash = undefined;
    const meta = this.meta;
    this.meta = undefined;
    if (!meta) return;
    const data = Buffer.concat(meta.chunks);
    if (meta.kind === 'pax') {
      const records = paxRecords(data);
      const path = records.get('path');
      const linkpath = records.get('linkpath');
      const size = records.get('size');
      if (path !== undefined) this.pending.path = path;
      if (linkpath !== undefined) this.pending.linkpath = linkpath;
      if (size !== undefined) this.pending.size = Number(size);
    } else if (meta.kind === 'gnu-name') this.pending.path = text(data, 0, data.length);
    else if (meta.kind === 'gnu-link') this.pending.linkpath = text(data, 0, data.length);
  }
}
