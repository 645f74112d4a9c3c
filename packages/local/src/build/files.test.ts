import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type MatchOptions, matchFiles, streamMatches } from './files';

describe('matching artifact files as a stream', () => {
  const root = mkdtempSync(join(tmpdir(), 'stepline-match-'));
  const outside = mkdtempSync(join(tmpdir(), 'stepline-match-outside-'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  for (const dir of ['dist/assets', 'dist-old', 'dist.bak', 'logs/a', 'node_modules/x', '.cache', 'skip/me']) mkdirSync(join(root, dir), { recursive: true });
  const files = ['dist/app.js', 'dist/app.js.map', 'dist/assets/logo.svg', 'dist-old/app.js', 'dist.bak/app.js', 'logs/a/unit.log', 'node_modules/x/i.js'];
  for (const file of [...files, '.cache/c', 'skip/me/s.txt', 'README', '\u{1F600}', '\uE000', '\uFF04']) writeFileSync(join(root, file), file);
  writeFileSync(join(outside, 'o.txt'), 'o');
  symlinkSync('dist/app.js', join(root, 'link-to-file'));
  symlinkSync('dist', join(root, 'link-to-dir'));
  symlinkSync('nowhere', join(root, 'dangling'));

  const cases: Array<[string, string[], MatchOptions]> = [
    ['everything', ['**/*'], {}],
    ['several patterns that overlap', ['dist/**/*', '**/*.js', 'logs/**/*.log', 'README'], {}],
    ['exclude-paths', ['**/*'], { exclude: ['**/*.map', 'node_modules/**/*'] }],
    ['a directory left out', ['**/*'], { skipDirs: [join(root, 'skip')] }],
    ['absolute patterns inside and outside the base', [join(root, 'dist', '*.js'), join(outside, '*.txt'), 'README'], {}],
    ['a pattern naming one file, and one naming nothing', ['dist/app.js', 'missing/**/*'], {}],
  ];

  it.each(cases)('finds what matchFiles finds, in the same order: %s', async (_name, patterns, options) => {
    const listed = matchFiles(root, patterns, options).map((m) => [m.relative, m.absolute]);
    const streamed: string[][] = [];
    for await (const m of streamMatches(root, patterns, options)) streamed.push([m.relative, m.absolute]);
    expect(listed.length).toBeGreaterThan(0);
    expect(streamed).toStrictEqual(listed);
  });

  it('keeps links that lead to files, not those that lead to directories or nowhere', async () => {
    const found: string[] = [];
    for await (const m of streamMatches(root, ['*'])) found.push(m.relative);
    expect(found).toContain('link-to-file');
    expect(found).not.toContain('link-to-dir');
    expect(found).not.toContain('dangling');
  });
});
