/**
 * `stepline build --json` over every real buildspec of the corpus, through the real CLI. Each one
 * either runs until a command fails (with that command's exit code) or succeeds, or is refused with
 * exit 1 and an error naming the key; nothing crashes.
 *
 * The builds run real commands, as root in CI, on a machine that reaches npm and Debian: PATH holds
 * only a few harmless tools, so apt-get, npm, pip, docker, aws, git, curl, make… are tools this
 * machine lacks (exit 127). Each build gets a fresh directory and HOME, and a time limit.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Buildspec, parseBuildspecText } from '@stepline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusFiles } from './helpers/corpus';

const CLI = join(import.meta.dirname, '..', 'packages', 'cli', 'bin', 'stepline.js');
const TOOLS = [
  'sh',
  'bash',
  'echo',
  'printf',
  'cat',
  'ls',
  'mkdir',
  'cp',
  'mv',
  'rm',
  'touch',
  'test',
  'true',
  'false',
  'env',
  'sed',
  'grep',
  'tr',
  'head',
  'tail',
  'wc',
  'sort',
  'date',
  'basename',
  'dirname',
  'pwd',
  'uname',
];
// Generous: the CLI's start-up is CPU-bound, and CI machines run other tests at the same time.
const BUILD_TIMEOUT_MS = 60_000;
const STACK_TRACE = /^\s+at .+[(\s]\S+:\d+:\d+\)?$/m;

let scratch: string;
let toolsDir: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'stepline-build-corpus-'));
  toolsDir = join(scratch, 'bin');
  mkdirSync(toolsDir);
  for (const tool of TOOLS) {
    const found = (process.env.PATH ?? '')
      .split(delimiter)
      .map((dir) => join(dir, tool))
      .find((path) => existsSync(path));
    if (found) symlinkSync(found, join(toolsDir, tool));
  }
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // SIGTERM: the CLI stops the build's process groups itself, then exits.
    const timer = setTimeout(() => child.kill('SIGTERM'), BUILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The buildspec's secret variables, when it parses: each gets a fake value the output must never show. */
function fakeSecrets(text: string, name: string): Record<string, string> {
  let buildspec: Buildspec;
  try {
    buildspec = parseBuildspecText(text, name).buildspec;
  } catch {
    return {};
  }
  const names = [...Object.keys(buildspec.env.parameterStore), ...Object.keys(buildspec.env.secretsManager)];
  return Object.fromEntries(names.map((variable) => [variable, `fake-${variable.toLowerCase()}-value-9c1e`]));
}

const files = corpusFiles('buildspecs');
type CorpusFile = (typeof files)[number];

interface CorpusBuild {
  run: CliRun;
  secrets: Record<string, string>;
  /** The directory built (in place). */
  src: string;
}

/** Each file is built once; the checks of particular files reuse the run. */
const runs = new Map<string, Promise<CorpusBuild>>();
function buildFile(file: CorpusFile): Promise<CorpusBuild> {
  let pending = runs.get(file.name);
  if (!pending) {
    // The source, HOME and TMPDIR of each build are apart, so that nothing but the source is built.
    const root = mkdtempSync(join(scratch, 'build-'));
    const [src, home, tmp] = [join(root, 'src'), join(root, 'home'), join(root, 'tmp')];
    for (const dir of [src, home, tmp]) mkdirSync(dir);
    const secrets = fakeSecrets(file.text, file.name);
    pending = runCli(['build', src, '--buildspec', file.path, '--json'], { PATH: toolsDir, HOME: home, TMPDIR: tmp, ...secrets }).then((run) => ({
      run,
      secrets,
      src,
    }));
    runs.set(file.name, pending);
  }
  return pending;
}

describe('stepline build --json on the buildspec corpus', () => {
  it('has the corpus, CRLF and template files included', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(files.some((f) => f.text.includes('\r\n'))).toBe(true);
    expect(files.some((f) => f.name.endsWith('.tpl'))).toBe(true);
  });

  it.concurrent.each(files.map((f) => [f.name, f] as const))(
    '%s',
    async (_name, file) => {
      const { run, secrets } = await buildFile(file);

      expect(run.stderr).not.toMatch(STACK_TRACE);
      expect([0, 1]).toContain(run.code);
      for (const value of Object.values(secrets)) expect(`${run.stdout}${run.stderr}`).not.toContain(value);

      if (run.stdout === '') {
        // Refused before running: exit 1 and one error naming the file and the key.
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/^error: .+\.\w+: [A-Za-z_][\w.[\]"-]*: \S/m);
        return;
      }
      const report = JSON.parse(run.stdout) as {
        status: string;
        phases: Array<{ name: string; status: string; durationMs: number }>;
        logFile: string;
        failure?: { phase: string; command?: string; exitCode?: number; message: string };
      };
      expect(report.phases.map((p) => p.name)).toStrictEqual(['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD', 'UPLOAD_ARTIFACTS']);
      const log = readFileSync(report.logFile, 'utf8');
      for (const value of Object.values(secrets)) expect(log).not.toContain(value);
      if (report.status === 'SUCCEEDED') {
        expect(run.code).toBe(0);
        return;
      }
      expect(report.status).toBe('FAILED');
      expect(run.code).toBe(1);
      const failure = report.failure;
      if (failure?.command !== undefined) {
        // The build ran to a command that failed, and reports that command's own exit code.
        expect(failure.exitCode).toBeGreaterThan(0);
        expect(log).toContain(`Command did not exit successfully ${failure.command} exit status ${failure.exitCode}`);
        // 127 is a tool this machine lacks (or a script the source lacks): never one of the allowed tools.
        const missing = /: ([^\s:]+): (?:command )?not found$/m.exec(log)?.[1];
        if (failure.exitCode === 127) expect(log).toMatch(/not found|No such file or directory/);
        if (missing !== undefined) expect(TOOLS).not.toContain(missing);
      } else {
        expect(failure?.phase).toBe('UPLOAD_ARTIFACTS');
      }
    },
    BUILD_TIMEOUT_MS + 30_000,
  );
});

describe('stepline build on particular corpus files', () => {
  const build = async (fragment: string) => {
    const file = files.find((f) => f.name.includes(fragment));
    if (!file) throw new Error(`no corpus file named like ${fragment}`);
    return (await buildFile(file)).run;
  };

  it('builds the CRLF template to its end, artifacts included', async () => {
    const file = files.find((f) => f.name.includes('buildspec-git-merge.yml.tpl'));
    if (!file) throw new Error('no corpus file named like buildspec-git-merge.yml.tpl');
    const { run, src } = await buildFile(file);
    const report = JSON.parse(run.stdout) as { status: string; artifacts: Array<{ files: number }> };
    expect(report.status).toBe('SUCCEEDED');
    // `**/*` of a source that held nothing: what the build wrote, env_vars.props among it.
    const written = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((p) => !p.startsWith('.stepline') && statSync(join(src, p)).isFile());
    expect(written).toContain('env_vars.props');
    expect(report.artifacts[0]?.files).toBe(written.length);
  });

  it('refuses to run a batch-only buildspec as one build, naming the batch key', async () => {
    const run = await build('amplify-cli__codebuild_specs_pr_workflow');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(': batch: this file declares only a batch of builds, no phases: run it from a build action with batchEnabled: true');
  });

  it('reads the batch of every real buildspec that declares one', () => {
    const batches = files
      .filter((file) => /^batch:/m.test(file.text))
      .map((file) => {
        const batch = parseBuildspecText(file.text, file.name).buildspec.batch;
        return [file.name.replace(/\.ya?ml$/, ''), batch?.type, batch?.builds.length, batch?.fastFail];
      });
    expect(batches).toStrictEqual([
      ['aws-amplify__amplify-cli__codebuild_specs_pr_workflow', 'build-graph', expect.any(Number), false],
      ['aws__aws-encryption-sdk-java__codebuild_release_release', 'build-graph', 1, true],
      ['aws__aws-encryption-sdk-javascript__buildspec', 'build-list', 2, false],
      ['aws__aws-encryption-sdk-javascript__codebuild_release_prod-release', 'build-graph', 4, true],
      ['aws__copilot-cli__buildspec-e2e', 'build-matrix', 9, false],
      ['aws__s2n-tls__codebuild_spec_buildspec_fuzz_batch', 'build-list', expect.any(Number), false],
      // 1 image × 3 libcryptos × 3 compilers × 2 corked-io settings.
      ['aws__s2n-tls__codebuild_spec_buildspec_integ_matrix', 'build-matrix', 18, false],
      ['aws__s2n-tls__codebuild_spec_buildspec_integrationv2_matrix', 'build-matrix', 12, false],
    ]);
    const prodRelease = files.find((f) => f.name.includes('prod-release'));
    const graph = parseBuildspecText(prodRelease?.text ?? '', 'prod-release').buildspec.batch?.builds;
    expect(graph?.map((b) => [b.identifier, b.dependOn])).toStrictEqual([
      ['nodejs10', []],
      ['nodejs12', []],
      ['version', ['nodejs10', 'nodejs12']],
      ['publish', ['version']],
    ]);
  });

  it('runs a buildspec with secrets past its first command when they have values, and masks them', async () => {
    const run = await build('sonarqube');
    const report = JSON.parse(run.stdout) as { failure: { phase: string; command: string; exitCode: number } };
    expect(report.failure).toMatchObject({ phase: 'INSTALL', exitCode: 127 });
    expect(report.failure.command).toMatch(/^wget /);
  });

  it('runs a version 0.1 buildspec to its first missing tool', async () => {
    const run = await build('Spires-Infra');
    const report = JSON.parse(run.stdout) as { failure: { phase: string; command: string; exitCode: number } };
    expect(report.failure).toMatchObject({ phase: 'INSTALL', command: 'python setup.py develop', exitCode: 127 });
  });
});
