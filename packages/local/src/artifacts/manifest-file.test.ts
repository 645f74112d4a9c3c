import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Manifest, ManifestCheck, type ManifestFile, ManifestSchema } from '@stepline/core';
import { afterAll, describe, expect, it } from 'vitest';
import { readManifest, writeManifest } from './manifest-file';

const sha = (n: number) => n.toString(16).padStart(64, '0');
const header = { artifact: 'Src', pipeline: 'web', executionId: 'e-1', createdAt: '2026-12-04T00:00:00.000Z' };

describe('manifest.json, a file entry at a time', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stepline-manifest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const read = async (path: string) => {
    const files: ManifestFile[] = [];
    const head = await readManifest(path, (f) => files.push(f));
    return { ...head, files };
  };

  it('writes ordinary JSON, one entry a line, and reads back what it wrote', async () => {
    const files = Array.from({ length: 3 }, (_, i) => ({ path: `d/f"${i}\u00e9`, sha256: sha(i), size: i, extra: 'not written' }));
    const path = join(dir, 'written.json');
    await writeManifest(path, header, files.length, (i) => files[i] as ManifestFile);

    const text = readFileSync(path, 'utf8');
    const whole: Manifest = ManifestSchema.parse(JSON.parse(text));
    expect(whole.files.map((f) => f.path)).toStrictEqual(['d/f"0é', 'd/f"1é', 'd/f"2é']);
    expect(text.split('\n')).toHaveLength(6);
    expect(await read(path)).toStrictEqual(whole);
    await expect(writeManifest(path, header, 0, () => files[0] as ManifestFile)).rejects.toThrow('EEXIST');
  });

  it('reads a manifest written whole (indented) as before, and an empty one', async () => {
    const old = { ...header, files: [{ path: 'a', sha256: sha(1), size: 1 }] };
    writeFileSync(join(dir, 'old.json'), `${JSON.stringify(old, null, 2)}\n`);
    expect(await read(join(dir, 'old.json'))).toStrictEqual(old);
    await writeManifest(join(dir, 'empty.json'), header, 0, () => ({ path: '', sha256: '', size: 0 }));
    expect(await read(join(dir, 'empty.json'))).toStrictEqual({ ...header, files: [] });
  });

  it('names the line of an entry that is not one, and a manifest cut short', async () => {
    const lines = `${JSON.stringify(header).slice(0, -1)},"files":[\n{"path":"a","sha256":"${sha(1)}","size":1},\n{"path":"b","sha256":"xyz","size":1}\n]}\n`;
    writeFileSync(join(dir, 'bad.json'), lines);
    await expect(read(join(dir, 'bad.json'))).rejects.toThrow(/^line 3: /);
    writeFileSync(join(dir, 'cut.json'), lines.split('\n').slice(0, 2).join('\n'));
    await expect(read(join(dir, 'cut.json'))).rejects.toThrow('line 2: the manifest ends before its list of files does');
    await expect(read(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('checking a manifest against the files present', () => {
  const check = (present: string[], digests: Record<string, string>, listed: Array<[string, string]>) => {
    const c = new ManifestCheck(present, (i) => digests[present[i] ?? ''] ?? '');
    for (const [path, digest] of listed) c.entry(path, digest);
    return { problems: c.finish(), count: c.count };
  };

  it('finds files missing, changed and unexpected in one pass over both sorted lists', () => {
    const result = check(['a', 'b', 'c', 'e'], { a: '1', b: '2', c: 'x', e: '5' }, [
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
    expect(check(['a'], { a: '1' }, [['a', '1']])).toStrictEqual({ problems: [], count: 0 });
  });

  it('shows five problems and counts the rest, and refuses entries out of order', () => {
    const present = Array.from({ length: 1000 }, (_, i) => `f${String(i).padStart(4, '0')}`);
    const result = check(present, {}, []);
    expect(result.count).toBe(1000);
    expect(result.problems.map((p) => p.path)).toStrictEqual(['f0000', 'f0001', 'f0002', 'f0003', 'f0004']);
    expect(() =>
      check([], {}, [
        ['b', '1'],
        ['a', '1'],
      ]),
    ).toThrow('manifest entries are not sorted by path at a');
  });
});
