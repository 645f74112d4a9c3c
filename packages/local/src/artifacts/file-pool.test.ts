import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type CopyJob, type FileDigest, FileJobError, FilePool, type SymlinkMode } from './file-pool';

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describe('the file pool', () => {
  const pool = new FilePool(2);
  /** Each copy's digest, in the order given. */
  const copy = async (jobs: CopyJob[], symlinks: SymlinkMode) => {
    const digests: FileDigest[] = [];
    for await (const [, digest] of pool.copyStream(jobs, (job) => job, symlinks)) digests.push(digest);
    return digests;
  };
  const dirs: string[] = [];
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepline-pool-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  afterAll(() => pool.close());

  it('copies files into directories it makes, hashing them as they stream, modes kept', async () => {
    // Prepare: more files than a batch, one executable, one larger than the read buffer.
    const from = fresh();
    const to = fresh();
    const big = Buffer.alloc(2.5 * 1024 * 1024, 3);
    writeFileSync(join(from, 'big'), big);
    writeFileSync(join(from, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(from, 'run.sh'), 0o751);
    const names = ['big', 'run.sh', ...Array.from({ length: 150 }, (_, i) => `f${i}`)];
    for (let i = 0; i < 150; i++) writeFileSync(join(from, `f${i}`), `file ${i}`);

    // Act
    const digests = await copy(
      names.map((n) => ({ from: join(from, n), to: join(to, 'deep', 'er', n) })),
      'keep',
    );

    // Assess
    expect(digests[0]).toStrictEqual({ sha256: sha(big), size: big.length });
    expect(digests[2 + 149]).toStrictEqual({ sha256: sha('file 149'), size: 8 });
    expect(readFileSync(join(to, 'deep', 'er', 'big')).equals(big)).toBe(true);
    expect(statSync(join(to, 'deep', 'er', 'run.sh')).mode & 0o777).toBe(0o751);
  });

  it('makes copies independent of their original: writing one in place leaves the other as it was', async () => {
    // Prepare
    const from = fresh();
    const to = fresh();
    writeFileSync(join(from, 'input.txt'), 'stored\n');

    // Act: a build edits its copy of an input in place.
    await copy([{ from: join(from, 'input.txt'), to: join(to, 'input.txt') }], 'keep');
    writeFileSync(join(to, 'input.txt'), 'edited by the build\n', { flag: 'r+' });

    // Assess
    expect(readFileSync(join(from, 'input.txt'), 'utf8')).toBe('stored\n');
    expect(statSync(join(to, 'input.txt')).ino).not.toBe(statSync(join(from, 'input.txt')).ino);
  });

  it('copies a symbolic link as a link, or as the file it points to, and hashes it accordingly', async () => {
    // Prepare
    const from = fresh();
    const to = fresh();
    writeFileSync(join(from, 'target.txt'), 'target');
    symlinkSync('target.txt', join(from, 'link'));
    symlinkSync('missing', join(from, 'dangling'));

    // Act
    const kept = await copy(
      ['link', 'dangling'].map((n) => ({ from: join(from, n), to: join(to, 'kept', n) })),
      'keep',
    );
    const followed = await copy([{ from: join(from, 'link'), to: join(to, 'followed') }], 'follow');

    // Assess
    expect(readlinkSync(join(to, 'kept', 'link'))).toBe('target.txt');
    expect(kept.map((d) => d.sha256)).toStrictEqual([sha('symlink:target.txt'), sha('symlink:missing')]);
    expect(lstatSync(join(to, 'followed')).isFile()).toBe(true);
    expect(followed[0]).toStrictEqual({ sha256: sha('target'), size: 6 });
  });

  it('fails with the path and the system error when a file cannot be read', async () => {
    const dir = fresh();
    await expect(pool.hash([join(dir, 'nothing')])).rejects.toSatisfy(
      (error: unknown) => error instanceof FileJobError && error.code === 'ENOENT' && error.path === join(dir, 'nothing'),
    );
    expect(await pool.hash([])).toStrictEqual([]);
  });

  it('streams: answers files in the order given as they come, and on a failure names the first failed file once nothing runs', async () => {
    // Prepare: more files than the pool keeps in flight, one missing far into the stream.
    const from = fresh();
    const to = fresh();
    const names = Array.from({ length: 1000 }, (_, i) => `f${String(i).padStart(4, '0')}`);
    for (const name of names) writeFileSync(join(from, name), name);
    let asked = 0;
    async function* lazily(list: string[]) {
      for (const name of list) {
        asked++;
        yield name;
      }
    }

    // Act
    const hashed: string[] = [];
    for await (const [name, digest] of pool.hashStream(lazily(names), (n) => join(from, n))) {
      // The pool asks for the next files as it goes, not all of them first.
      if (hashed.length === 0) expect(asked).toBeLessThan(names.length);
      expect(digest).toStrictEqual({ sha256: sha(name), size: name.length });
      hashed.push(name);
    }
    const copied: string[] = [];
    const withHole = [...names.slice(0, 700), 'missing', ...names.slice(700)];
    const copying = (async () => {
      for await (const [name] of pool.copyStream(withHole, (n) => ({ from: join(from, n), to: join(to, n) }), 'keep')) copied.push(name);
    })();

    // Assess
    expect(hashed).toStrictEqual(names);
    await expect(copying).rejects.toSatisfy((error: unknown) => error instanceof FileJobError && error.path === join(from, 'missing'));
    expect(copied).toStrictEqual(names.slice(0, 700));
    // Whatever was started had ended when the stream threw: nothing writes into `to` afterwards.
    const present = readdirSync(to).length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readdirSync(to).length).toBe(present);
  });
});
