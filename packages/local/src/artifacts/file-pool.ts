/**
 * Copies and hashes artifact files in worker threads, one per core: each file is read once, hashed
 * while it streams, and written once. Workers use synchronous calls, which for many small files cost
 * a fraction of an asynchronous call each, and leave the main thread (the engine, the server) free.
 *
 * A copy is a reflink (copy-on-write, `FICLONE`) where the filesystem allows it: no data is written, and
 * the copy is still independent of its original, so a build that edits its input in place cannot
 * change the stored artifact. Copies are never hard links for that reason.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** What a file holds: SHA-256 (hex) and size in bytes; a symbolic link is hashed by the path it holds. */
export interface FileDigest {
  sha256: string;
  size: number;
}

/** `keep`: a symbolic link is copied (or hashed) as a link; `follow`: as the file it points to. */
export type SymlinkMode = 'keep' | 'follow';

export interface CopyJob {
  from: string;
  to: string;
  /**
   * Both sides are write-once (one sealed artifact into another): a hard link where the filesystem
   * allows one, as no one will change either file in place. Never for a copy that someone works in.
   */
  link?: boolean;
}

type Job = { op: 'hash'; path: string; symlinks: SymlinkMode } | { op: 'copy'; from: string; to: string; link: boolean; symlinks: SymlinkMode };
interface Batch {
  id: number;
  jobs: Job[];
}
/** A batch's answer: 32 bytes of digest and a size per job, and the jobs that failed. */
interface BatchResult {
  id: number;
  digests: Uint8Array;
  sizes: Float64Array;
  /** `[index in the batch, error code, message]` */
  errors: Array<[number, string, string]>;
}

const DIGEST_BYTES = 32;

/** A streamed batch's digests as the workers answer them: 32 bytes and one number a file, read as hex when yielded. */
class DigestTable {
  private readonly bytes: Buffer;
  private readonly sizes: Float64Array;

  constructor(readonly count: number) {
    this.bytes = Buffer.alloc(DIGEST_BYTES * count);
    this.sizes = new Float64Array(count);
  }

  /** SHA-256 (hex) of file `i`. */
  sha256(i: number): string {
    return this.bytes.toString('hex', DIGEST_BYTES * i, DIGEST_BYTES * (i + 1));
  }

  size(i: number): number {
    return this.sizes[i] ?? 0;
  }

  digest(i: number): FileDigest {
    return { sha256: this.sha256(i), size: this.size(i) };
  }

  /** @internal a batch's digests, from file `start` on */
  fill(start: number, digests: Uint8Array, sizes: Float64Array): void {
    this.bytes.set(digests, DIGEST_BYTES * start);
    this.sizes.set(sizes, start);
  }
}

/** A file the pool could not read or write; `code` is the system error's (`ENOENT`, `EACCES`, …). */
export class FileJobError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FileJobError';
  }
}

/**
 * The worker's whole program. It runs from its source text (`eval`), so that it works the same from
 * TypeScript in tests and from the bundled CLI: it must not refer to anything outside itself.
 */
function fileWorker(): void {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const { createHash } = process.getBuiltinModule('node:crypto') as typeof import('node:crypto');
  const { dirname } = process.getBuiltinModule('node:path') as typeof import('node:path');
  const { parentPort } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
  const buffer = Buffer.allocUnsafe(1 << 20);
  /** Directories this worker made or found, with their device (reflinks work within one filesystem). */
  const dirs = new Map<string, number>();
  /** Whether reflinks work from one device to another, once tried. */
  const reflinks = new Map<string, boolean>();
  const NO_REFLINK = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY', 'EPERM']);
  /** Whether hard links work from one device to another, once tried. */
  const links = new Map<string, boolean>();
  const NO_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

  const parent = (path: string): number => {
    const dir = dirname(path);
    let dev = dirs.get(dir);
    if (dev === undefined) {
      fs.mkdirSync(dir, { recursive: true });
      dev = fs.statSync(dir).dev;
      dirs.set(dir, dev);
    }
    return dev;
  };
  const linkDigest = (target: string) => ({
    digest: createHash('sha256').update(`symlink:${target}`).digest(),
    size: Buffer.byteLength(target),
  });
  /** Reads an open file to its end, hashing it, and writes what it reads to `out` when given. */
  const stream = (fd: number, out?: number) => {
    const hash = createHash('sha256');
    let size = 0;
    for (let n = fs.readSync(fd, buffer, 0, buffer.length, null); n > 0; n = fs.readSync(fd, buffer, 0, buffer.length, null)) {
      const chunk = buffer.subarray(0, n);
      hash.update(chunk);
      if (out !== undefined) for (let written = 0; written < n; ) written += fs.writeSync(out, chunk, written, n - written);
      size += n;
    }
    return { digest: hash.digest(), size };
  };
  const hashFile = (path: string) => {
    const fd = fs.openSync(path, 'r');
    try {
      return stream(fd);
    } finally {
      fs.closeSync(fd);
    }
  };
  const run = (job: Job) => {
    const path = job.op === 'hash' ? job.path : job.from;
    if (job.symlinks === 'keep' && fs.lstatSync(path).isSymbolicLink()) {
      const target = fs.readlinkSync(path);
      if (job.op === 'copy') {
        parent(job.to);
        fs.symlinkSync(target, job.to);
      }
      return linkDigest(target);
    }
    if (job.op === 'hash') return hashFile(path);
    const fd = fs.openSync(path, 'r');
    try {
      const info = fs.fstatSync(fd);
      if (!info.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EISDIR' });
      const key = `${info.dev}:${parent(job.to)}`;
      if (job.link && links.get(key) !== false) {
        try {
          fs.linkSync(path, job.to);
          links.set(key, true);
          return stream(fd);
        } catch (error) {
          if (!NO_LINK.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
          links.set(key, false);
        }
      }
      if (reflinks.get(key) !== false) {
        try {
          fs.copyFileSync(path, job.to, fs.constants.COPYFILE_FICLONE_FORCE | fs.constants.COPYFILE_EXCL);
          reflinks.set(key, true);
          // Nothing was read: hash what the consumer will see.
          return hashFile(job.to);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? '';
          if (!NO_REFLINK.has(code)) throw error;
          reflinks.set(key, false);
          fs.rmSync(job.to, { force: true });
        }
      }
      const out = fs.openSync(job.to, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, info.mode & 0o7777);
      try {
        const digest = stream(fd, out);
        // The umask may have taken bits off: the copy keeps its original's mode, as copyFile does.
        fs.fchmodSync(out, info.mode & 0o7777);
        return digest;
      } finally {
        fs.closeSync(out);
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  parentPort?.on('message', (batch: Batch) => {
    const count = batch.jobs.length;
    const digests = Buffer.alloc(32 * count);
    const sizes = new Float64Array(count);
    const errors: Array<[number, string, string]> = [];
    batch.jobs.forEach((job, i) => {
      try {
        const { digest, size } = run(job);
        digest.copy(digests, 32 * i);
        sizes[i] = size;
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        errors.push([i, e.code ?? 'EIO', e.message]);
      }
    });
    parentPort.postMessage({ id: batch.id, digests, sizes, errors });
  });
}

/** Files a worker takes at a time: few enough to spread the work, many enough to keep messages rare. */
const BATCH = 64;
/** Batches a streamed job keeps queued or running per worker: enough that no worker waits for the next. */
const WINDOW = 3;

interface Slot {
  worker: Worker;
  busy: boolean;
}

interface Pending {
  count: number;
  /** Jobs are made a batch at a time: for 200,000 files, never 200,000 job objects at once. */
  job: (i: number) => Job;
  results: DigestTable;
  /** The failed job with the lowest index, if any. */
  failure: { index: number; code: string; message: string } | undefined;
  next: number;
  outstanding: number;
  failed: boolean;
  resolve: (results: DigestTable) => void;
  reject: (error: unknown) => void;
}

/** A fixed set of file workers shared by everything in the process; see {@link filePool}. */
export class FilePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Map<number, { pending: Pending; start: number; slot: Slot }>();
  private nextId = 0;

  /** @param size workers to run, @default the number of cores */
  constructor(readonly size = availableParallelism()) {}

  /** Hashes a few files, each by its content (or, with `keep`, a symbolic link by its target), in the order given. */
  async hash(paths: readonly string[], symlinks: SymlinkMode = 'keep'): Promise<FileDigest[]> {
    const digests: FileDigest[] = [];
    for await (const [, digest] of this.hashStream(paths, (path) => path, symlinks)) digests.push(digest);
    return digests;
  }

  /**
   * Hashes files as `items` yield them: yields each item with its digest, in the order given, holding a
   * few batches at a time, so that memory does not grow with the number of files.
   */
  hashStream<T>(items: AsyncIterable<T> | Iterable<T>, path: (item: T) => string, symlinks: SymlinkMode = 'keep'): AsyncGenerator<[T, FileDigest]> {
    return this.streamed(items, (item) => ({ op: 'hash', path: path(item), symlinks }), path);
  }

  /**
   * Copies files as `items` yield them (making the directories they need; a destination must not exist
   * yet), hashing them as they are copied: yields each item with its copy's digest, in the order given.
   */
  copyStream<T>(items: AsyncIterable<T> | Iterable<T>, job: (item: T) => CopyJob, symlinks: SymlinkMode): AsyncGenerator<[T, FileDigest]> {
    return this.streamed(
      items,
      (item) => copyJob(job(item), symlinks),
      (item) => job(item).from,
    );
  }

  /** Ends the workers; the pool starts new ones if it is used again. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /**
   * Batches of {@link BATCH} items, up to {@link WINDOW} per worker queued or running, answered in order.
   * On the first failure (in the order given) it throws once the batches already started have ended,
   * so that nothing is still writing when the caller cleans up.
   */
  private async *streamed<T>(items: AsyncIterable<T> | Iterable<T>, job: (item: T) => Job, pathOf: (item: T) => string): AsyncGenerator<[T, FileDigest]> {
    const window: Array<Streamed<T>> = [];
    const submit = (batch: T[]) => {
      const done = this.run(batch.length, (i) => job(batch[i] as T));
      // Awaited in order below; a crashed worker's rejection must not go unhandled meanwhile.
      done.catch(() => undefined);
      window.push({ items: batch, done, pathOf });
    };
    const limit = WINDOW * Math.max(1, this.size);
    try {
      let batch: T[] = [];
      for await (const item of items) {
        batch.push(item);
        if (batch.length < BATCH) continue;
        submit(batch);
        batch = [];
        while (window.length >= limit) yield* answered(window.shift());
      }
      if (batch.length > 0) submit(batch);
      while (window.length > 0) yield* answered(window.shift());
    } finally {
      await Promise.allSettled(window.map((w) => w.done));
    }
  }

  private run(count: number, job: (i: number) => Job): Promise<Pending> {
    const results = new DigestTable(count);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        count,
        job,
        results,
        failure: undefined,
        next: 0,
        outstanding: 0,
        failed: false,
        resolve: () => resolve(pending),
        reject,
      };
      if (count === 0) {
        resolve(pending);
        return;
      }
      this.queue.push(pending);
      this.start();
      this.dispatch();
    });
  }

  private start(): void {
    while (this.slots.length < Math.max(1, this.size)) {
      // Transpilers that keep function names (tsx) wrap inner functions in a `__name` helper of their own.
      const worker = new Worker(`var __name = (f) => f;\n(${fileWorker.toString()})();`, { eval: true });
      const slot: Slot = { worker, busy: false };
      worker.on('message', (message: BatchResult) => this.done(message));
      worker.on('error', (error) => this.crashed(slot, error));
      worker.unref();
      this.slots.push(slot);
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const pending = this.queue.find((p) => p.next < p.count);
      if (!pending) return;
      const start = pending.next;
      pending.next = Math.min(pending.count, start + BATCH);
      pending.outstanding++;
      const id = this.nextId++;
      this.inFlight.set(id, { pending, start, slot });
      slot.busy = true;
      // A worker holds the process open only while it works.
      slot.worker.ref();
      const jobs: Job[] = [];
      for (let i = start; i < pending.next; i++) jobs.push(pending.job(i));
      slot.worker.postMessage({ id, jobs } satisfies Batch);
    }
  }

  private done({ id, digests, sizes, errors }: BatchResult): void {
    const flight = this.inFlight.get(id);
    if (!flight) return;
    this.inFlight.delete(id);
    const { pending, start, slot } = flight;
    slot.busy = false;
    slot.worker.unref();
    pending.results.fill(start, digests, sizes);
    for (const [index, code, message] of errors) {
      if (!pending.failure || start + index < pending.failure.index) pending.failure = { index: start + index, code, message };
    }
    pending.outstanding--;
    if (!pending.failed && pending.next >= pending.count && pending.outstanding === 0) {
      this.queue.splice(this.queue.indexOf(pending), 1);
      pending.resolve(pending.results);
    }
    this.dispatch();
  }

  private crashed(slot: Slot, error: unknown): void {
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    for (const [id, flight] of this.inFlight) {
      if (flight.slot !== slot) continue;
      this.inFlight.delete(id);
      const pending = flight.pending;
      if (pending.failed) continue;
      pending.failed = true;
      const queued = this.queue.indexOf(pending);
      if (queued >= 0) this.queue.splice(queued, 1);
      pending.reject(error);
    }
    void slot.worker.terminate();
    if (this.queue.length > 0) {
      this.start();
      this.dispatch();
    }
  }
}

interface Streamed<T> {
  items: T[];
  done: Promise<Pending>;
  pathOf: (item: T) => string;
}

/** A streamed batch's items with their digests, once the batch is done: those before its first failure, then the failure. */
async function* answered<T>(entry: Streamed<T> | undefined): AsyncGenerator<[T, FileDigest]> {
  if (!entry) return;
  const { results, failure } = await entry.done;
  const end = failure?.index ?? entry.items.length;
  for (let i = 0; i < end; i++) yield [entry.items[i] as T, results.digest(i)];
  if (failure) throw new FileJobError(entry.pathOf(entry.items[failure.index] as T), failure.code, failure.message);
}

const copyJob = ({ from, to, link }: CopyJob, symlinks: SymlinkMode): Job => ({ op: 'copy', from, to, link: link ?? false, symlinks });

let shared: FilePool | undefined;

/** The process's file pool, sized to its cores, started on first use. */
export function filePool(): FilePool {
  shared ??= new FilePool();
  return shared;
}
