import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listFiles } from '../artifacts/store';
import { exportTree } from './git';
import { TarDigest, type TarFile } from './tar-digest';

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };

describe('hashing a tar stream as it passes', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('hashes what git archive writes, long paths and links included, the same as the files tar unpacks', async () => {
    // Prepare: a repository with an empty file, a large one, a path longer than ustar's 100 + 155
    // bytes (a pax header), one that only fits with the prefix field, and symbolic links.
    const repo = mkdtempSync(join(tmpdir(), 'stepline-tar-'));
    dirs.push(repo);
    const long = `${'a'.repeat(120)}/${'b'.repeat(150)}/file.txt`;
    const prefixed = `${'p'.repeat(120)}/short.txt`;
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    for (const [path, body] of [
      ['empty', ''],
      ['big.bin', big],
      [long, 'long\n'],
      [prefixed, 'prefixed\n'],
      ['é/ünïcode.txt', 'x'],
    ] as const) {
      mkdirSync(join(repo, path, '..'), { recursive: true });
      writeFileSync(join(repo, path), body);
    }
    symlinkSync('big.bin', join(repo, 'link'));
    symlinkSync(`${'t'.repeat(200)}/nowhere`, join(repo, 'long-link'));
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo, env });
    execFileSync('git', ['add', '-A'], { cwd: repo, env });
    execFileSync('git', ['commit', '-q', '-m', 'c'], { cwd: repo, env });
    const dest = join(repo, '..', `${repo.split('/').at(-1)}-out`);
    dirs.push(dest);

    // Act
    const files: TarFile[] = [];
    for await (const file of exportTree(repo, 'HEAD', dest)) files.push(file);

    // Assess: every file tar wrote, with the digest of its content (a link: of its target).
    // In git's order, which for these names is the manifest's (sorted) order.
    expect(files.map((f) => f.path)).toStrictEqual(await listFiles(dest));
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect(byPath.get('empty')).toStrictEqual({ path: 'empty', sha256: sha(''), size: 0 });
    expect(byPath.get('big.bin')).toStrictEqual({ path: 'big.bin', sha256: sha(big), size: big.length });
    expect(byPath.get(long)?.sha256).toBe(sha('long\n'));
    expect(byPath.get(prefixed)?.sha256).toBe(sha('prefixed\n'));
    expect(byPath.get('é/ünïcode.txt')?.sha256).toBe(sha('x'));
    expect(byPath.get('link')?.sha256).toBe(sha('symlink:big.bin'));
    expect(byPath.get('long-link')?.sha256).toBe(sha(`symlink:${'t'.repeat(200)}/nowhere`));
  });

  it('reads the stream whatever its chunks: one byte at a time gives the same files', () => {
    // Prepare: a tar made by tar itself (ustar headers, no pax), fed to two readers differently.
    const dir = mkdtempSync(join(tmpdir(), 'stepline-tar-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'a.txt'), 'a'.repeat(700));
    writeFileSync(join(dir, 'b.txt'), 'b');
    const tar = execFileSync('tar', ['-c', '--format=ustar', '-C', dir, 'a.txt', 'b.txt']);
    const wholeFiles: TarFile[] = [];
    const bytesFiles: TarFile[] = [];
    const whole = new TarDigest((f) => wholeFiles.push(f));
    const bytes = new TarDigest((f) => bytesFiles.push(f));

    // Act
    whole.write(tar);
    for (let i = 0; i < tar.length; i++) bytes.write(tar.subarray(i, i + 1));

    // Assess
    expect(wholeFiles).toStrictEqual([
      { path: 'a.txt', sha256: sha('a'.repeat(700)), size: 700 },
      { path: 'b.txt', sha256: sha('b'), size: 1 },
    ]);
    expect(bytesFiles).toStrictEqual(wholeFiles);
  });
});
