import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { walkSorted } from './walk';

describe('walking a tree in manifest order', () => {
  const root = mkdtempSync(join(tmpdir(), 'stepline-walk-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds every file and link, in the order of their sorted whole paths, without listing them all first', async () => {
    // Names around '/' in code unit order: '-' and '.' sort before it, '0' and 'A' after.
    // Beyond U+FFFF (surrogates, 0xD83D…) sorts before U+E000 and U+FF04 in code units, after them in code points.
    for (const dir of ['a', 'a/b', 'a-b', 'a.b', 'a0', 'A', 'é', 'z/y/x', 'empty', '\u{1F600}', '\uE000']) mkdirSync(join(root, dir), { recursive: true });
    for (const file of [
      'a/b/c',
      'a/b.txt',
      'a/b-c',
      'a-b/1',
      'a.b/2',
      'a0/3',
      'A/4',
      'é/5',
      'z/y/x/6',
      'a-',
      'a.',
      '.hidden',
      'manifest.json',
      '\u{1F600}/7',
      '\uE000/8',
      '\uFF04',
    ])
      writeFileSync(join(root, file), file);
    symlinkSync('a', join(root, 'link-to-dir'));
    symlinkSync('nowhere', join(root, 'dangling'));
    const everything = readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => !e.isDirectory())
      .map((e) => relative(root, join(e.parentPath, e.name)))
      .sort();

    const walked: string[] = [];
    for await (const path of walkSorted(root)) walked.push(path);

    expect(walked).toStrictEqual(everything);
    expect(walked.slice(0, 8)).toStrictEqual(['.hidden', 'A/4', 'a-', 'a-b/1', 'a.', 'a.b/2', 'a/b-c', 'a/b.txt']);
    expect(walked.slice(-3)).toStrictEqual(['\u{1F600}/7', '\uE000/8', '\uFF04']);
    const skipped: string[] = [];
    for await (const path of walkSorted(root, { skip: (p) => p === 'manifest.json', skipDir: (p) => p === 'z/' })) skipped.push(path);
    expect(skipped).toStrictEqual(everything.filter((p) => p !== 'manifest.json' && !p.startsWith('z/')));
  });
});
