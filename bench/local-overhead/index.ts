/**
 * What `stepline run` adds on top of the work itself: a 4-stage, 6-action pipeline whose every command
 * is `true`, run with the real CLI (a fresh Node process per run, as a user runs it), beside the same
 * six commands run by bash in the same script. Prints the median of each, and the difference.
 *
 *   npx tsx bench/local-overhead/index.ts [runs=7]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? 7);
const cli = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'stepline.js');
const dir = mkdtempSync(join(tmpdir(), 'stepline-bench-'));
const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@example.com' };

const files: Record<string, string> = {
  'buildspec.yml': 'version: 0.2\nphases:\n  build:\n    commands:\n      - "true"\n',
  'stepline.yml': readFileSync(join(import.meta.dirname, 'stepline.yml'), 'utf8'),
  '.gitignore': '.stepline/\n',
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
mkdirSync(join(dir, 'src'));
writeFileSync(join(dir, 'src', 'app.txt'), 'app\n');
execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir, env });
execFileSync('git', ['add', '-A'], { cwd: dir, env });
execFileSync('git', ['commit', '-q', '-m', 'bench'], { cwd: dir, env });

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const stepline = () => {
  const r = spawnSync(process.execPath, [cli, 'run', '--approve', 'auto'], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stepline run failed:\n${r.stdout}\n${r.stderr}`);
};
// The same work without stepline: the six commands (the source action's work is git's).
const bash = () => {
  const r = spawnSync('bash', ['-c', 'git archive HEAD | tar -x -C "$(mktemp -d)" && true && true && true && true && true'], { cwd: dir, env });
  if (r.status !== 0) throw new Error('bash failed');
};
const nodeBare = () => spawnSync(process.execPath, ['-e', ''], { env });

stepline(); // warm the file cache and the bundle
const steplineTimes: number[] = [];
const bashTimes: number[] = [];
const nodeTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  steplineTimes.push(time(stepline));
  bashTimes.push(time(bash));
  nodeTimes.push(time(nodeBare));
}
rmSync(dir, { recursive: true, force: true });

const s = median(steplineTimes);
const b = median(bashTimes);
const n = median(nodeTimes);
const ms = (v: number) => `${v.toFixed(0)} ms`;
console.log(`node ${process.version}, ${cpus().length} cpus, median of ${runs} runs, interleaved`);
console.log(`stepline run (4 stages, 6 actions, commands \`true\`): ${ms(s)}`);
console.log(`the same commands in bash:                           ${ms(b)}`);
console.log(`overhead of stepline:                                ${ms(s - b)}  (${(s / b).toFixed(0)}x bash)`);
console.log(`of which starting a bare node process:               ${ms(n)}`);
