import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processesWithEnvironment } from '../../../../test/helpers/processes';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'stepline.js');

// The tests run at once: directories go when all of them are done.
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'stepline-cli-build-'));
  dirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

interface Cli {
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
  interrupt(): void;
}

function cli(args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    exit: new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr }))),
    interrupt: () => child.kill('SIGINT'),
  };
}

describe.concurrent('stepline build', () => {
  it('builds a directory in place, streams the output, ends with a phase table, and masks secrets', async () => {
    const dir = project({
      'buildspec.yml': `version: 0.2
env:
  secrets-manager:
    TOKEN: ci/token
phases:
  build:
    commands:
      - echo "token is $TOKEN"
      - echo "$TOKEN" > token.txt
artifacts:
  files: [token.txt]
`,
      '.stepline/secrets.json': JSON.stringify({ 'ci/token': 'sup3r-s3cret-token' }),
    });
    const { code, stdout, stderr } = await cli(['build', dir]).exit;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('token is ***');
    expect(stdout).toMatch(/^PHASE {13}STATUS {5}DURATION\nINSTALL {11}SUCCEEDED {2}\S+\n/m);
    expect(stdout).toContain('artifact primary: 1 file(s)\nbuild SUCCEEDED\n');
    const [build] = readdirSync(join(dir, '.stepline', 'builds'));
    const log = readFileSync(join(dir, '.stepline', 'builds', build ?? '', 'build.log'), 'utf8');
    expect(log).toContain('token is ***');
    expect(`${stdout}${log}`).not.toContain('sup3r-s3cret-token');
  });

  it('stops the build on Ctrl-C: kills its processes, reports STOPPED and exits 130', async () => {
    // Every process of the build carries CTRL_C_TEST (as numbers, its pids would be its PID namespace's own).
    const token = randomUUID();
    const dir = project({
      'ci.yml': `version: 0.2
env:
  variables:
    CTRL_C_TEST: ${token}
phases:
  build:
    commands:
      - sleep 30 & touch started; wait
`,
    });
    const run = cli(['build', dir, '--buildspec', join(dir, 'ci.yml'), '--json']);
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(dir, 'started'))) {
      if (Date.now() > deadline) throw new Error('the build did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const marker = 'CTRL_C_TEST';
    expect(processesWithEnvironment(marker, token).length).toBeGreaterThanOrEqual(2);
    run.interrupt();
    const { code, stdout } = await run.exit;
    expect(code).toBe(130);
    expect((JSON.parse(stdout) as { status: string }).status).toBe('STOPPED');
    expect(processesWithEnvironment(marker, token)).toStrictEqual([]);
  });

  it('refuses a directory that does not exist', async () => {
    const { code, stderr } = await cli(['build', '/nonexistent/stepline-dir']).exit;
    expect(code).toBe(1);
    expect(stderr).toBe('error: /nonexistent/stepline-dir: no such directory\n');
  });
});
