/**
 * A large repository through `stepline run`, beside the shell doing the same file work, in one run.
 *
 * The bench generates a git repository of 20,000 files, 240 MB in all (times `--scale`), and a pipeline
 * of a source action and one build (command `true`) whose artifact is every file (`**\/*`). Each round
 * runs, interleaved:
 * - `stepline run` with the real CLI in a fresh Node process: wall time, the peak RSS of stepline's own
 *   process (worker threads included) and of the whole process tree (from `/usr/bin/time`: git archive
 *   maps its pack file, so it shows there as the pack's size);
 * - the shell doing the same copies and hashes: `git archive | tar -x`, sha256 of every file, two copies
 *   (`cp -r`: into the build's directory and out to the artifact), sha256 of every file again.
 * State left by a round (`.stepline/`, the shell's directory) is removed between rounds, outside the timing;
 * which of the two goes first alternates from round to round.
 *
 *   npx tsx bench/big-repo/index.ts [--scale 1] [--mib 240×scale] [--rounds 3] [--keep-repo DIR] [--cli OTHER/packages/cli/bin/stepline.js]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    /** Total size in MiB, for a repository of many small files (the file count alone drives memory). */
    mib: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'keep-repo': { type: 'string' },
    /** Another build of the CLI (`packages/cli/bin/stepline.js` of another checkout), for a before/after. */
    cli: { type: 'string' },
  },
});
const scale = Number(args.scale);
const rounds = Number(args.rounds);
const FILES = 20_000 * scale;
const BYTES = (args.mib === undefined ? 240 * scale : Number(args.mib)) * 1024 * 1024;

const cli = args.cli ?? join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'stepline.js');
const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@example.com' };

/** 100 files a directory, two levels deep; sizes spread from 0 to twice the mean (12 KiB at scale 1). */
function generate(dir: string): void {
  const mean = BYTES / FILES;
  let written = 0;
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, 'src', `d${Math.floor(i / 10_000)}`, `p${Math.floor(i / 100) % 100}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    const size = i === FILES - 1 ? Math.max(0, BYTES - written) : Math.floor((((i * 7919) % 1000) / 1000) * 2 * mean);
    // Half text, half random bytes: sources and built binaries.
    const body =
      i % 2 === 0
        ? randomBytes(size)
        : Buffer.from(
            randomBytes(Math.ceil(size / 2))
              .toString('hex')
              .slice(0, size),
          );
    writeFileSync(join(sub, `f${i}.${i % 2 === 0 ? 'bin' : 'txt'}`), body);
    written += size;
  }
  writeFileSync(join(dir, '.gitignore'), '.stepline/\n');
  writeFileSync(join(dir, 'buildspec.yml'), 'version: 0.2\nphases:\n  build:\n    commands:\n      - "true"\nartifacts:\n  files:\n    - "**/*"\n');
  writeFileSync(
    join(dir, 'stepline.yml'),
    `name: big-repo
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: bench/big-repo, outputArtifacts: [Src] }]
  - name: Build
    actions: [{ name: Compile, kind: build, inputArtifacts: [Src], outputArtifacts: [Out], timeoutMinutes: 60 }]
`,
  );
  const git = (...a: string[]) => execFileSync('git', ['-c', 'core.compression=0', ...a], { cwd: dir, env, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'big repo');
}

const SHELL = `set -e
d=$(mktemp -d)
mkdir "$d/src"
git archive HEAD | tar -x -C "$d/src"
(cd "$d/src" && find . -type f -print0 | xargs -0 sha256sum > "$d/source.sha256")
cp -r "$d/src" "$d/work"
cp -r "$d/work" "$d/out"
(cd "$d/out" && find . -type f -print0 | xargs -0 sha256sum > "$d/out.sha256")
echo "$d"`;

interface Timed {
  ms: number;
  /** The whole process tree's peak (the largest process in it). */
  treeRssKiB: number;
  /** The stepline process's own peak. */
  ownRssKiB: number;
  dir?: string;
}

const rssFile = join(tmpdir(), `stepline-peak-rss-${process.pid}`);

function timed(command: string, argv: string[], cwd: string): Timed {
  rmSync(rssFile, { force: true });
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', command, ...argv], {
    cwd,
    env: { ...env, STEPLINE_PEAK_RSS_FILE: rssFile },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${command} ${argv.join(' ')} failed (${r.status}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const treeRssKiB = Number(r.stderr.trim().split('\n').at(-1));
  const ownRssKiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : Number.NaN;
  return { ms, treeRssKiB, ownRssKiB, dir: r.stdout.trim().split('\n').at(-1) };
}

const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const repo = args['keep-repo'] ?? mkdtempSync(join(tmpdir(), 'stepline-big-repo-'));
if (!existsSync(join(repo, '.git'))) {
  mkdirSync(repo, { recursive: true });
  const started = performance.now();
  generate(repo);
  console.log(
    `generated ${FILES.toLocaleString()} files, ${(BYTES / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s: ${repo}`,
  );
}

const stepline: Timed[] = [];
const shell: Timed[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    const load = loadavg()[0]?.toFixed(1);
    // Which goes first alternates: the second inherits the first's dirty pages and warm cache.
    const runStepline = () => {
      const t = timed(process.execPath, ['--import', join(import.meta.dirname, 'peak-rss.mjs'), cli, 'run'], repo);
      rmSync(join(repo, '.stepline'), { recursive: true, force: true });
      return t;
    };
    const runShell = () => {
      const t = timed('bash', ['-c', SHELL], repo);
      if (t.dir) rmSync(t.dir, { recursive: true, force: true });
      return t;
    };
    let s: Timed;
    let b: Timed;
    if (round % 2 === 0) {
      s = runStepline();
      b = runShell();
    } else {
      b = runShell();
      s = runStepline();
    }
    stepline.push(s);
    shell.push(b);
    console.log(
      `round ${round + 1}: stepline run ${(s.ms / 1000).toFixed(2)} s (peak RSS ${mib(s.ownRssKiB)}, with git ${mib(s.treeRssKiB)}), shell ${(b.ms / 1000).toFixed(2)} s: ${(s.ms / b.ms).toFixed(2)}x  (load average ${load})`,
    );
  }
} finally {
  if (!args['keep-repo']) rmSync(repo, { recursive: true, force: true });
}

const sMs = median(stepline.map((t) => t.ms));
const bMs = median(shell.map((t) => t.ms));
const ratios = stepline.map((s, i) => s.ms / (shell[i]?.ms ?? Number.NaN));
console.log(
  `node ${process.version}, ${availableParallelism()} cpus, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, ${FILES.toLocaleString()} files, ${(BYTES / 2 ** 20).toFixed(0)} MiB, median of ${rounds} interleaved rounds`,
);
console.log(
  `stepline run (source + build of **/*): ${(sMs / 1000).toFixed(2)} s, peak RSS of stepline's process ${mib(Math.max(...stepline.map((t) => t.ownRssKiB)))} (of its process tree, git archive's mapped pack included: ${mib(Math.max(...stepline.map((t) => t.treeRssKiB)))})`,
);
console.log(`the shell doing the same copies/hashes: ${(bMs / 1000).toFixed(2)} s`);
console.log(`ratio: ${(sMs / bMs).toFixed(2)}x (median of per-round ratios ${median(ratios).toFixed(2)}x)`);
