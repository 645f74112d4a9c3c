import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithManifest, type DigestedFile, type Manifest, type ManifestFile, ManifestSchema } from '@stepline/core';
import { afterAll, describe, expect, it } from 'vitest';
import { readManifest, writeManifest } from './manifest-file';

const sha = (n: number) => n.toString(16).padStart(64, '0');
const header = { artifact: 'Src', pipeline: 'web', executionId: 'e-1', createdAt: '2026-12-04T00:00:00.000Z' };

describe('manifest.json, a file entry at a time', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stepline-manifest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const read = async (path: string) => {
    const files: ManifestFile[] = [];
    const entries = readManifest(path);
    for (let next = await entries.next(); ; next = await entries.next()) {
      if (next.done) return { ...next.value, files };
      files.push(next.value);
    }
  };
  const write = (path: string, files: Iterable<ManifestFile>) => writeManifest(path, `${path}.partial`, header, files);

  it('writes ordinary JSON, one entry a line, and reads back what it wrote', async () => {
    const files = Array.from({ length: 3 }, (_, i) => ({ path: `d/f"${i}\u00e9`, sha256: sha(i), size: i, extra: 'not written' }));
    const path = join(dir, 'written.json');
    expect(await write(path, files)).toBe(3);

    const text = readFileSync(path, 'utf8');
    const whole: Manifest = ManifestSchema.parse(JSON.parse(text));
    expect(whole.files.map((f) => f.path)).toStrictEqual(['d/f"0é', 'd/f"1é', 'd/f"2é']);
    expect(text.split('\n')).toHaveLength(6);
    expect(await read(path)).toStrictEqual(whole);
    await expect(write(path, [])).rejects.toThrow('EEXIST');
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it('refuses entries out of order, and leaves no manifest, whole or half, behind', async () => {
    const path = join(dir, 'unsorted.json');
    const files = [
      { path: 'b', sha256: sha(1), size: 1 },
      { path: 'a', sha256: sha(2), size: 1 },
    ];
    await expect(write(path, files)).rejects.toThrow('manifest entries are not sorted by path at a');
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it('reads a manifest written whole (indented) as before, and an empty one', async () => {
    const old = { ...header, files: [{ path: 'a', sha256: sha(1), size: 1 }] };
    writeFileSync(join(dir, 'old.json'), `${JSON.stringify(old, null, 2)}\n`);
    expect(await read(join(dir, 'old.json'))).toStrictEqual(old);
    await write(join(dir, 'empty.json'), []);
    expect(await read(join(dir, 'empty.json'))).toStrictEqual({ ...header, files: [] });
  });

  it('names the line of an entry that is not one, and a manifest cut short', async () => {
    const lines = `${JSON.stringify(header).slice(0, -1)},"files":[\n{"path":"a","sha256":"${sha(1)}","size":1},\n{"path":"b","sha256":"xyz","size":1}\n]}\n`;
    writeFileSync(join(dir, 'bad.json'), lines);
    await expect(read(join(dir, 'bad.json'))).rejects.toThrow(/^line 3: /);
    writeFileSync(join(dir, 'cut.json'), lines.split('\n').slice(0, 2).join('\n'));
    await expect(read(join(dir, 'cut.json'))).rejects.toThrow('line 2: the manifest ends before its list of files does');
    await expect(read(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    const swapped = `${JSON.stringify(header).slice(0, -1)},"files":[\n{"path":"b","sha256":"${sha(1)}","size":1},\n{"path":"a","sha256":"${sha(1)}","size":1}\n]}\n`;
    writeFileSync(join(dir, 'unsorted.json'), swapped);
    await expect(read(join(dir, 'unsorted.json'))).rejects.toThrow('line 3: entries are not sorted by path at a');
  });
});

describe('checking a manifest against the files present', () => {
  async function* stream(files: Array<[string, string]>): AsyncGenerator<DigestedFile> {
    for (const [path, sha256] of files) yield { path, sha256 };
  }
  const check = (present: Array<[string, string]>, listed: Array<[string, string]>) => compareWithManifest(stream(listed), stream(present));

  it('finds files missing, changed and unexpected in one pass over both sorted streams', async () => {
    const present: Array<[string, string]> = [
      ['a', '1'],
      ['b', '2'],
      ['c', 'x'],
      ['e', '5'],
    ];
    const result = await check(present, [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['d', '4'],
    ]);
    expect(result).toStrictEqual({
      problems: [
        { path: 'c', problem: 'changed' },
        { path: 'd', problem: 'missing' },
        { path: 'e', problem: 'unexpected' },
      ],
      count: 3,
    });
    expect(await check([['a', '1']], [['a', '1']])).toStrictEqual({ problems: [], count: 0 });
  });

  it('shows five problems and counts the rest, and refuses entries out of order', async () => {
    const present = Array.from({ length: 1000 }, (_, i): [string, string] => [`f${String(i).padStart(4, '0')}`, '1']);
    const result = await check(present, []);
    expect(result.count).toBe(1000);
    expect(result.problems.map((p) => p.path)).toStrictEqual(['f0000', 'f0001', 'f0002', 'f0003', 'f0004']);
    await expect(
      check(
        [],
        [
          ['b', '1'],
          ['a', '1'],
        ],
      ),
    ).rejects.toThrow('manifest entries are not sorted by path at a');
  });

  it('ends both streams when one fails, so that no work is left running', async () => {
    let ended = false;
    async function* present(): AsyncGenerator<DigestedFile> {
      try {
        for (let i = 0; ; i++) yield { path: `f${i}`, sha256: '1' };
      } finally {
        ended = true;
      }
    }
    async function* broken(): AsyncGenerator<DigestedFile> {
      yield { path: 'f0', sha256: '1' };
      throw new Error('line 3: not JSON');
    }
    await expect(compareWithManifest(broken(), present())).rejects.toThrow('line 3: not JSON');
    expect(ended).toBe(true);
  });
});
