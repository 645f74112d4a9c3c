/**
 * A full disk and a read-only state directory: one clear line saying which directory and what is wrong,
 * never a stack trace or SQLite's "disk I/O error", and the history intact (PRAGMA integrity_check).
 * The state directory is a small tmpfs, which needs root (CI runs as root); elsewhere this is skipped
 * with the reason.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, runCli } from '../helpers/project';

function canMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs as the state directory needs root';
  const probe = `/tmp/stepline-mount-probe-${process.pid}`;
  try {
    mkdirSync(probe, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'mount -t tmpfs is not allowed here';
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const skipReason = canMount();
if (skipReason) {
  if (process.env.CI === 'true') throw new Error(`${skipReason}: not allowed under CI=true`);
  console.warn(`SKIPPED test/reliability/storage.test.ts: ${skipReason}`);
}

let project: Project | undefined;
let mounted: string | undefined;
afterEach(() => {
  if (mounted) execFileSync('umount', [mounted], { stdio: 'ignore' });
  project?.remove();
  project = mounted = undefined;
});

function integrity(db: string): string {
  const handle = new Database(db, { readonly: true });
  try {
    return String((handle.pragma('integrity_check') as Array<{ integrity_check: string }>)[0]?.integrity_check);
  } finally {
    handle.close();
  }
}

/** Fills the file system that holds `dir` to the last block. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  const { bavail, bsize } = statfsSync(dir);
  try {
    writeFileSync(filler, Buffer.alloc(bavail * bsize + bsize));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  return filler;
}

describe.skipIf(skipReason !== undefined)('the state directory on a full or read-only disk', () => {
  it('says so in one line, names the directory, and keeps the history intact', async () => {
    project = createProject({
      'stepline.yml': `
name: disk
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/x, outputArtifacts: [Src] }]
  - name: Build
    actions: [{ name: B, kind: build, inputArtifacts: [Src], outputArtifacts: [Out] }]
`,
      'buildspec.yml': 'version: 0.2\nphases:\n  build:\n    commands:\n      - head -c 300000 /dev/urandom > blob.bin\nartifacts:\n  files: ["**/*"]\n',
    });
    const cwd = project.dir;
    const state = join(cwd, '.stepline');
    mkdirSync(state);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', state]);
    mounted = state;
    expect((await runCli(['run'], { cwd })).code).toBe(0);

    const filler = fill(state);
    const full = await runCli(['run'], { cwd });
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/^error: no space left on the disk that holds the state directory \.stepline\/ .*\n$/);
    expect(full.stderr).not.toMatch(/\n\s+at /);
    rmSync(filler);
    expect(integrity(join(state, 'stepline.db'))).toBe('ok');
    const listed = JSON.parse((await runCli(['list-executions', '--json'], { cwd })).stdout) as Array<{ status: string }>;
    expect(listed.map((e) => e.status)).toContain('Succeeded');

    execFileSync('mount', ['-o', 'remount,ro', state]);
    for (const args of [['run'], ['list-executions']]) {
      const refused = await runCli(args, { cwd });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: the state directory \.stepline\/ \(history, artifacts and logs\) is read-only here .*\n$/);
    }
    execFileSync('mount', ['-o', 'remount,rw', state]);
    expect(integrity(join(state, 'stepline.db'))).toBe('ok');
  }, 90_000);
});
