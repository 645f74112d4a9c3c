/**
 * `stepline build [dir]`: runs a CodeBuild buildspec in a directory on this machine, as the CodeBuild
 * local agent does, without Docker. The build runs in place; stepline keeps what it writes under the
 * directory's `.stepline/`: the log in `builds/<id>/build.log`, `cache.paths` in `cache/`, and
 * secrets are read from `secrets.json` there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { BuildReport } from '@stepline/local';
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { formatDuration, formatTable, printJson } from '../output';

/** Shell convention: 128 + the signal's number. */
const EXIT_ON_SIGNAL: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function register(program: Command): void {
  program
    .command('build')
    .description('run a CodeBuild buildspec (version 0.2) in a directory on this machine, as the CodeBuild local agent does')
    .argument('[dir]', 'source directory, built in place (default: .)')
    .option('--buildspec <file>', 'buildspec file (default: buildspec.yml in the directory)')
    .option('--json', 'print the build report as one JSON object; build output goes to stderr')
    .action(async (dir: string | undefined, opts: { buildspec?: string; json?: boolean }) => {
      const root = resolve(dir ?? '.');
      if (!isDirectory(root)) throw new UsageError(`${dir ?? '.'}: no such directory`);
      const stepline = join(root, '.stepline');
      const builds = join(stepline, 'builds');
      const uuid = crypto.randomUUID();
      const git = gitVersions(root);

      const controller = new AbortController();
      let stoppedBy: string | undefined;
      const stop = (signal: NodeJS.Signals) => {
        // A second Ctrl-C while the build is being stopped changes nothing: the runner escalates to SIGKILL itself.
        stoppedBy ??= signal;
        controller.abort();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      let report: BuildReport;
      try {
        // Loaded here: the local engine is heavy, and the other verbs do not need it.
        const { runBuild } = await import('@stepline/local');
        report = await runBuild({
          sourceDir: root,
          buildspec: opts.buildspec ? buildspecPath(opts.buildspec, root) : 'buildspec.yml',
          build: { id: `${basename(root)}:${uuid}`, number: countBuilds(builds) + 1, initiator: initiator(), ...git },
          cacheDir: join(stepline, 'cache'),
          secrets: { file: join(stepline, 'secrets.json') },
          logFile: join(builds, uuid, 'build.log'),
          onOutput: (text) => (opts.json ? process.stderr : process.stdout).write(text),
          signal: controller.signal,
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }

      if (opts.json) printJson(report);
      else process.stdout.write(`\n${summary(report)}\n`);
      process.exitCode = report.status === 'SUCCEEDED' ? 0 : report.status === 'STOPPED' ? (EXIT_ON_SIGNAL[stoppedBy ?? 'SIGINT'] ?? 130) : 1;
    });
}

/** Relative to where the user is when the file is there (shell completion gives such paths), else to the directory. */
function buildspecPath(file: string, root: string): string {
  if (isAbsolute(file)) return file;
  const fromCwd = resolve(file);
  return existsSync(fromCwd) ? fromCwd : join(root, file);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function countBuilds(dir: string): number {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).length;
  } catch {
    return 0;
  }
}

/** CODEBUILD_RESOLVED_SOURCE_VERSION and CODEBUILD_SOURCE_VERSION from git, when the directory is a work tree. */
function gitVersions(root: string): { resolvedSourceVersion?: string; sourceVersion?: string } {
  try {
    const [sha, branch] = execFileSync('git', ['rev-parse', 'HEAD', '--abbrev-ref', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    })
      .trim()
      .split('\n');
    if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) return {};
    return branch && branch !== 'HEAD' ? { resolvedSourceVersion: sha, sourceVersion: branch } : { resolvedSourceVersion: sha };
  } catch {
    return {}; // Not a git work tree, no commit yet, or no git: the build runs without them.
  }
}

function initiator(): string {
  try {
    return userInfo().username;
  } catch {
    return 'stepline';
  }
}

function summary(report: BuildReport): string {
  const lines = [
    formatTable(
      ['PHASE', 'STATUS', 'DURATION'],
      report.phases.map((p) => [p.name, p.status, p.status === 'SKIPPED' ? '' : formatDuration(p.durationMs)]),
    ),
  ];
  for (const artifact of report.artifacts) lines.push(`artifact ${artifact.name}: ${artifact.files} file(s)`);
  for (const r of report.reports) lines.push(`report ${r.name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  for (const [name, value] of Object.entries(report.exportedVariables)) lines.push(`exported ${name}=${value}`);
  const failure = report.failure ? ` in ${report.failure.phase}: ${report.failure.message}` : '';
  lines.push(`build ${report.status}${report.status === 'SUCCEEDED' ? '' : failure}`, `log: ${report.logFile}`);
  return lines.join('\n');
}
