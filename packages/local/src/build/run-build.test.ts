import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DefinitionError } from '@stepline/core';
import { afterEach, describe, expect, it } from 'vitest';
import { processesWithEnvironment } from '../../../../test/helpers/processes';
import { describeContainment, pidNamespaceSupport } from '../process/pid-namespace';
import { type BuildReport, type RunBuildOptions, runBuild } from './run-build';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function sourceTree(files: Record<string, string> = {}): { root: string; src: string } {
  const root = mkdtempSync(join(tmpdir(), 'stepline-run-build-'));
  roots.push(root);
  const src = join(root, 'src');
  mkdirSync(src);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(src, path)), { recursive: true });
    writeFileSync(join(src, path), content);
  }
  return { root, src };
}

interface Built {
  report: BuildReport;
  output: string;
  log: string;
  root: string;
  src: string;
}

/** Runs an inline buildspec in a fresh source tree. */
async function build(
  buildspec: string,
  options: Partial<RunBuildOptions> & { files?: Record<string, string>; tree?: { root: string; src: string } } = {},
): Promise<Built> {
  const { files, tree, ...rest } = options;
  const { root, src } = tree ?? sourceTree(files);
  let output = '';
  const report = await runBuild({
    sourceDir: src,
    buildspec,
    build: { id: 'web:0b5e', number: 42, resolvedSourceVersion: 'a'.repeat(40), sourceVersion: 'main' },
    logFile: join(root, 'logs', `build-${Math.random()}.log`),
    onOutput: (text) => {
      output += text;
    },
    secrets: { env: {} },
    ...rest,
  });
  return { report, output, log: readFileSync(report.logFile, 'utf8'), root, src };
}

const statuses = (report: BuildReport) => Object.fromEntries(report.phases.map((p) => [p.name, p.status]));

/** Output lines of the commands, without stepline's own `[Container]` lines. */
const commandOutput = (output: string) => output.split('\n').filter((line) => line !== '' && !line.startsWith('[Container]'));

describe('runBuild: phases', () => {
  it('runs every phase in order and succeeds', async () => {
    const { report, output } = await build(`
version: 0.2
phases:
  install: {commands: [echo install]}
  pre_build: {commands: [echo pre_build]}
  build: {commands: [echo build]}
  post_build: {commands: [echo post_build]}
`);
    expect(report.status).toBe('SUCCEEDED');
    expect(commandOutput(output)).toStrictEqual(['install', 'pre_build', 'build', 'post_build']);
    expect(report.phases.map((p) => p.name)).toStrictEqual(['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD', 'UPLOAD_ARTIFACTS']);
    expect(report.failure).toBeUndefined();
  });

  it('still runs POST_BUILD after a failed BUILD, with CODEBUILD_BUILD_SUCCEEDING=0, and uploads the artifacts', async () => {
    const { root, src } = sourceTree();
    const out = join(root, 'out');
    const { report, output } = await build(
      `
version: 0.2
phases:
  build:
    commands:
      - echo before
      - exit 3
      - echo never
  post_build:
    commands:
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING" > result.txt
artifacts:
  files: [result.txt]
`,
      { tree: { root, src }, outputs: { primary: out } },
    );
    expect(report.status).toBe('FAILED');
    expect(statuses(report)).toStrictEqual({
      INSTALL: 'SUCCEEDED',
      PRE_BUILD: 'SUCCEEDED',
      BUILD: 'FAILED',
      POST_BUILD: 'SUCCEEDED',
      UPLOAD_ARTIFACTS: 'SUCCEEDED',
    });
    expect(report.failure).toStrictEqual({
      phase: 'BUILD',
      command: 'exit 3',
      exitCode: 3,
      message: 'Error while executing command: exit 3. Reason: exit status 3',
    });
    expect(commandOutput(output)).toStrictEqual(['before']);
    expect(readFileSync(join(out, 'result.txt'), 'utf8')).toBe('succeeding=0\n');
  });

  it('ends the build when PRE_BUILD fails: no BUILD, no POST_BUILD, no upload', async () => {
    const { report, output } = await build(`
version: 0.2
phases:
  pre_build: {commands: [missing-tool --version]}
  build: {commands: [echo build]}
  post_build: {commands: [echo post_build]}
artifacts:
  files: ['**/*']
`);
    expect(statuses(report)).toStrictEqual({ INSTALL: 'SUCCEEDED', PRE_BUILD: 'FAILED', BUILD: 'SKIPPED', POST_BUILD: 'SKIPPED', UPLOAD_ARTIFACTS: 'SKIPPED' });
    expect(report.failure).toMatchObject({ phase: 'PRE_BUILD', command: 'missing-tool --version', exitCode: 127 });
    expect(output).toMatch(/missing-tool: (command )?not found/);
    expect(report.artifacts).toStrictEqual([]);
  });

  it('runs the finally block after a failed command, skipping the rest of the commands, and fails the phase', async () => {
    const { report, output } = await build(`
version: 0.2
phases:
  build:
    commands:
      - echo one
      - false
      - echo skipped
    finally:
      - echo "cleanup succeeding=$CODEBUILD_BUILD_SUCCEEDING"
      - echo cleanup two
  post_build:
    finally:
      - echo post finally
`);
    expect(commandOutput(output)).toStrictEqual(['one', 'cleanup succeeding=0', 'cleanup two', 'post finally']);
    expect(statuses(report).BUILD).toBe('FAILED');
    expect(report.failure).toMatchObject({ phase: 'BUILD', command: 'false', exitCode: 1 });
  });

  it('fails the phase when only its finally block fails', async () => {
    const { report } = await build('version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n    finally: [exit 4]\n');
    expect(report.status).toBe('FAILED');
    expect(report.failure).toMatchObject({ phase: 'BUILD', command: 'exit 4', exitCode: 4 });
  });

  it('moves on after a failure with on-failure: CONTINUE, and the build still fails', async () => {
    const { report, output } = await build(`
version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands: [exit 2]
  pre_build: {commands: [echo pre_build ran]}
  build:
    commands:
      - echo "build ran, succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`);
    expect(commandOutput(output)).toStrictEqual(['pre_build ran', 'build ran, succeeding=0']);
    expect(statuses(report)).toStrictEqual({
      INSTALL: 'FAILED',
      PRE_BUILD: 'SUCCEEDED',
      BUILD: 'SUCCEEDED',
      POST_BUILD: 'SUCCEEDED',
      UPLOAD_ARTIFACTS: 'SUCCEEDED',
    });
    expect(report.status).toBe('FAILED');
  });

  it('ends the build at once after a failure with on-failure: ABORT', async () => {
    const { report, output } = await build(`
version: 0.2
phases:
  build:
    on-failure: ABORT
    commands: [exit 1]
  post_build: {commands: [echo post_build]}
`);
    expect(commandOutput(output)).toStrictEqual([]);
    expect(statuses(report)).toMatchObject({ BUILD: 'FAILED', POST_BUILD: 'SKIPPED', UPLOAD_ARTIFACTS: 'SKIPPED' });
  });
});

describe('runBuild: shell and environment', () => {
  it('carries variables (exported or not) and the directory from one command to the next, across phases', async () => {
    const { report, output } = await build(
      `
version: 0.2
phases:
  install:
    commands:
      - PLAIN=plain
      - export EXPORTED=exported
      - cd sub
  build:
    commands:
      - echo "$PLAIN $EXPORTED $(basename "$PWD")"
      - sh -c 'echo child sees $PLAIN'
      - unset PLAIN
      - 'echo "after unset: [\${PLAIN:-}]"'
`,
      { files: { 'sub/.keep': '' } },
    );
    expect(report.status).toBe('SUCCEEDED');
    expect(commandOutput(output)).toStrictEqual(['plain exported sub', 'child sees plain', 'after unset: []']);
  });

  it('runs each command in a fresh shell with version 0.1: nothing carries over', async () => {
    const { output } = await build('version: 0.1\nphases:\n  build:\n    commands:\n      - export A=1; cd /\n      - echo "A=[$A] $PWD"\n');
    expect(commandOutput(output)[0]).toMatch(/^A=\[\] \/.*\/src$/);
  });

  it('gives the CodeBuild variables, buildspec variables, and lets environment overrides win', async () => {
    const { src, root } = sourceTree();
    const { output } = await build(
      `
version: 0.2
env:
  variables:
    STAGE: from-buildspec
    KEPT: kept
phases:
  build:
    commands:
      - echo "$CODEBUILD_BUILD_ID|$CODEBUILD_BUILD_NUMBER|$CODEBUILD_SRC_DIR|$CODEBUILD_SOURCE_VERSION|$CODEBUILD_RESOLVED_SOURCE_VERSION|$CODEBUILD_BUILD_SUCCEEDING|$CODEBUILD_SRC_DIR_Lib"
      - echo "$STAGE $KEPT"
`,
      { tree: { root, src }, environment: { STAGE: 'from-override' }, secondarySources: { Lib: '/tmp/lib' } },
    );
    expect(commandOutput(output)).toStrictEqual([`web:0b5e|42|${src}|main|${'a'.repeat(40)}|1|/tmp/lib`, 'from-override kept']);
  });

  it('uses the shell env.shell names', async () => {
    const { output } = await build('version: 0.2\nenv:\n  shell: bash\nphases:\n  build:\n    commands: ["[[ -n $BASH_VERSION ]] && echo bash"]\n');
    expect(commandOutput(output)).toStrictEqual(['bash']);
  });

  it('captures exported-variables after the build, with their last value', async () => {
    const { report } = await build(`
version: 0.2
env:
  exported-variables: [IMAGE_TAG, NEVER_SET]
phases:
  build: {commands: ['IMAGE_TAG=build-$CODEBUILD_BUILD_NUMBER']}
  post_build: {commands: ['IMAGE_TAG=$IMAGE_TAG-final']}
`);
    expect(report.exportedVariables).toStrictEqual({ IMAGE_TAG: 'build-42-final', NEVER_SET: '' });
  });
});

describe('runBuild: secrets', () => {
  const SECRET = 'correct-horse-battery-staple';
  const BUILDSPEC = `
version: 0.2
env:
  secrets-manager:
    DB_PASSWORD: prod/db:password
    API_KEY: prod/api
  parameter-store:
    DB_HOST: /prod/db/host
  exported-variables: [DB_PASSWORD]
phases:
  build:
    commands:
      - echo "password=$DB_PASSWORD host=$DB_HOST key=$API_KEY"
      - printf '%s' "$DB_PASSWORD" | cut -c1-10; printf '%s\\n' "$DB_PASSWORD" | cut -c11-
      - echo "$DB_PASSWORD" >&2
      - exit 1
`;

  it('reads secrets from the environment first, then from the secrets file by reference, and masks them everywhere', async () => {
    const { root, src } = sourceTree();
    const file = join(root, 'secrets.json');
    writeFileSync(file, JSON.stringify({ 'prod/db:password': 'not-this-one', prod: {}, 'prod/api': 'api-key-value', '/prod/db/host': 'db.internal' }));
    const { report, output, log } = await build(BUILDSPEC, { tree: { root, src }, secrets: { file, env: { DB_PASSWORD: SECRET } } });
    const everything = [output, log, JSON.stringify(report)].join('\n');
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('api-key-value');
    expect(everything).not.toContain('db.internal');
    expect(commandOutput(output)[0]).toBe('password=*** host=*** key=***');
    expect(report.exportedVariables).toStrictEqual({ DB_PASSWORD: '***' });
    // The halves of a secret are shorter than the secret: printed apart, they are not it.
    expect(output).toContain('correct-ho');
  });

  it('reads a JSON key of a secret stored as an object or as JSON text', async () => {
    const { root, src } = sourceTree();
    const file = join(root, 'secrets.json');
    writeFileSync(file, JSON.stringify({ 'prod/db': { password: SECRET }, 'prod/api': '{"not":"used"}', '/prod/db/host': 'h' }));
    const { report, log } = await build(BUILDSPEC, { tree: { root, src }, secrets: { file, env: {} } });
    expect(report.failure?.command).toBe('exit 1');
    expect(log).toContain('password=*** host=h');
    expect(log).not.toContain(SECRET);
  });

  it('fails before the first command when a secret has no value, naming the variable and not a value', async () => {
    const { root, src } = sourceTree();
    const file = join(root, 'secrets.json');
    writeFileSync(file, JSON.stringify({ 'prod/db:password': SECRET, '/prod/db/host': 'h' }));
    const withInstall = BUILDSPEC.replace('phases:\n', 'phases:\n  install:\n    commands: [touch ran]\n');
    const { report, log } = await build(withInstall, { tree: { root, src }, secrets: { file, env: {} } });
    expect(report.status).toBe('FAILED');
    expect(report.phases.every((p) => p.status === 'SKIPPED')).toBe(true);
    expect(report.failure).toStrictEqual({
      phase: 'PROVISIONING',
      message: `env.secrets-manager.API_KEY: no value for prod/api: set the environment variable API_KEY or add "prod/api" to ${file}`,
    });
    expect(existsSync(join(src, 'ran'))).toBe(false);
    expect(log).toContain('env.secrets-manager.API_KEY');
    expect(log).not.toContain(SECRET);
  });
});

describe('runBuild: PARAMETER_STORE and SECRETS_MANAGER overrides', () => {
  it('reads the references StartBuild passes as it reads the buildspec’s, masked, winning over the buildspec', async () => {
    const { root, src } = sourceTree();
    const file = join(root, 'secrets.json');
    writeFileSync(file, JSON.stringify({ '/ci/token': 'token-value', 'ci/db': { password: 'db-value' }, '/old/token': 'old-value' }));
    const buildspec =
      'version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /old/token\nphases:\n  build:\n    commands:\n      - echo "token=$TOKEN db=$DB"\n      - test "$TOKEN" = token-value && test "$DB" = db-value\n';
    const { report, output } = await build(buildspec, {
      tree: { root, src },
      secrets: { file, env: {}, parameterStore: { TOKEN: '/ci/token' }, secretsManager: { DB: 'ci/db:password' } },
    });
    expect(report.status).toBe('SUCCEEDED');
    expect(commandOutput(output)[0]).toBe('token=*** db=***');
  });
});

describe('runBuild: artifacts, cache and reports', () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('assembles artifacts with base-directory, exclude-paths, discard-paths and secondary-artifacts', async () => {
    const { root, src } = sourceTree({
      'dist/index.html': '<html>',
      'dist/app.js': 'app',
      'dist/app.js.map': 'map',
      'dist/assets/logo.svg': '<svg>',
      'logs/a/unit.log': 'unit',
      'logs/b/e2e.log': 'e2e',
    });
    const primary = join(root, 'out-primary');
    const logs = join(root, 'out-logs');
    // What the store would seal: each output's files as they are copied.
    const copied = new Map<string, Array<{ path: string; sha256: string; size: number }>>();
    const onArtifact = async (destination: string, files: AsyncIterable<{ path: string; sha256: string; size: number }>) => {
      const list: Array<{ path: string; sha256: string; size: number }> = [];
      for await (const file of files) list.push(file);
      copied.set(destination, list);
    };
    const { report, log } = await build(
      `
version: 0.2
phases:
  build: {commands: [echo built > dist/stamp.txt]}
artifacts:
  base-directory: dist
  files: ['**/*']
  exclude-paths: ['**/*.map']
  name: web-$(echo 7)-$CODEBUILD_BUILD_NUMBER
  secondary-artifacts:
    logs:
      files: [logs/**/*.log]
      discard-paths: yes
    coverage:
      files: [coverage/**/*]
`,
      { tree: { root, src }, outputs: { primary, secondary: { logs } }, onArtifact },
    );
    const [main, logArtifact, coverage] = report.artifacts;
    expect(main).toStrictEqual({ name: 'web-7-42', files: 4 });
    expect(copied.get(primary)).toStrictEqual([
      { path: 'app.js', sha256: sha256('app'), size: 3 },
      { path: 'assets/logo.svg', sha256: sha256('<svg>'), size: 5 },
      { path: 'index.html', sha256: sha256('<html>'), size: 6 },
      { path: 'stamp.txt', sha256: sha256('built\n'), size: 6 },
    ]);
    expect(readFileSync(join(primary, 'assets/logo.svg'), 'utf8')).toBe('<svg>');
    expect(existsSync(join(primary, 'app.js.map'))).toBe(false);
    expect(logArtifact).toStrictEqual({ name: 'logs', files: 2 });
    expect(copied.get(logs)?.map((f) => f.path)).toStrictEqual(['e2e.log', 'unit.log']);
    expect(readFileSync(join(logs, 'unit.log'), 'utf8')).toBe('unit');
    // No files for an artifact fails the upload, as in CodeBuild; the others are still assembled.
    expect(coverage).toStrictEqual({ name: 'coverage', files: 0 });
    expect(statuses(report).UPLOAD_ARTIFACTS).toBe('FAILED');
    expect(report.failure).toStrictEqual({ phase: 'UPLOAD_ARTIFACTS', message: 'no matching artifact paths found for secondary artifact coverage' });
    expect(log).toContain('Phase context status code: CLIENT_ERROR');
  });

  it('keeps cache.paths between runs and puts them back before INSTALL', async () => {
    const { root } = sourceTree();
    const cacheDir = join(root, 'cache');
    const buildspec = `
version: 0.2
phases:
  install:
    commands:
      - if [ -f deps/lib.txt ]; then echo "restored $(cat deps/lib.txt)"; else mkdir -p deps && echo "run-$RUN" > deps/lib.txt && echo fresh; fi
cache:
  paths: ['deps/**/*', '/var/cache/not-here/**/*']
`;
    const first = await build(buildspec, { cacheDir, environment: { RUN: '1' } });
    const second = await build(buildspec, { cacheDir, environment: { RUN: '2' } });
    expect(commandOutput(first.output)).toStrictEqual(['fresh']);
    expect(commandOutput(second.output)).toStrictEqual(['restored run-1']);
    expect(second.log).toContain('Not caching /var/cache/not-here/**/*: outside the source directory');
  });

  it('counts JUnit XML reports per report group and leaves other formats out', async () => {
    const junit = (cases: string) => `<testsuite>${cases}</testsuite>`;
    const { report } = await build(
      `
version: 0.2
phases:
  build:
    commands:
      - mkdir -p reports && echo '${junit('<testcase name="a"/><testcase name="b"><failure/></testcase>')}' > reports/api.xml
reports:
  unit:
    base-directory: reports
    files: ['**/*.xml']
  coverage:
    files: [coverage.xml]
    file-format: COBERTURAXML
`,
      { files: { 'reports/ui.xml': junit('<testcase name="c"><skipped/></testcase><testcase name="d"/>'), 'reports/broken.xml': '<testsuite>' } },
    );
    expect(report.reports).toStrictEqual([{ name: 'unit', passed: 2, failed: 1, skipped: 1, failures: [{ name: 'b' }] }]);
  });
});

describe('runBuild: stopping', () => {
  async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The build's processes, found by a variable that all of them inherit (their `$$` and `$!` are their PID namespace's). */
  const marked = (src: string) => `env:\n  variables:\n    RUN_BUILD_TEST: "${src}"\n`;
  const processesOf = (src: string) => processesWithEnvironment('RUN_BUILD_TEST', src);

  it('kills the whole process group of the running command when aborted, and ends STOPPED', async () => {
    const { root, src } = sourceTree();
    const controller = new AbortController();
    const started = Date.now();
    const pending = build(
      `
version: 0.2
${marked(src)}
phases:
  build:
    commands:
      - sleep 30 & sh -c 'sleep 30' & touch started; wait
      - echo never
  post_build:
    commands: [echo never]
`,
      { tree: { root, src }, signal: controller.signal },
    );
    await waitFor(() => existsSync(join(src, 'started')));
    // The shell, the two sleeps and the shell between.
    expect(processesOf(src).length).toBeGreaterThanOrEqual(4);
    controller.abort();
    const { report, output } = await pending;
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(report.status).toBe('STOPPED');
    expect(statuses(report)).toMatchObject({ BUILD: 'STOPPED', POST_BUILD: 'SKIPPED', UPLOAD_ARTIFACTS: 'SKIPPED' });
    expect(commandOutput(output)).toStrictEqual([]);
    expect(processesOf(src)).toStrictEqual([]);
  });

  it('stops what a command left running in the background when the build ends, in its process group or not (setsid)', async () => {
    const { src, root } = sourceTree();
    const escapes = pidNamespaceSupport().kind === 'pid-namespace';
    const buildspec = `version: 0.2\n${marked(src)}phases:\n  build:\n    commands:\n      - nohup sleep 30 > /dev/null 2>&1 &\n${
      escapes ? "      - setsid sh -c 'sleep 30' > /dev/null 2>&1 &\n" : ''
    }      - sleep 0.2\n`;
    const { report, output } = await build(buildspec, { tree: { root, src } });
    expect(report.status).toBe('SUCCEEDED');
    expect(output).toContain(describeContainment(pidNamespaceSupport()));
    expect(processesOf(src)).toStrictEqual([]);
  });
});

describe('runBuild: buildspec', () => {
  it('throws a DefinitionError naming the key of an invalid buildspec, and logs it', async () => {
    const { root, src } = sourceTree({ 'buildspec.yml': 'version: 0.2\nphases:\n  build:\n    on-failure: STOP\n' });
    const logFile = join(root, 'build.log');
    const error = await runBuild({ sourceDir: src, build: { id: 'x:1', number: 1 }, logFile }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DefinitionError);
    expect((error as DefinitionError).message).toBe(`${join(src, 'buildspec.yml')}: phases.build.on-failure: expected ABORT or CONTINUE, got "STOP"`);
    expect(readFileSync(logFile, 'utf8')).toContain('phases.build.on-failure: expected ABORT or CONTINUE');
  });

  it('refuses a buildspec file that does not exist', async () => {
    const { root, src } = sourceTree();
    await expect(runBuild({ sourceDir: src, buildspec: 'ci/buildspec.yml', build: { id: 'x:1', number: 1 }, logFile: join(root, 'b.log') })).rejects.toThrow(
      `${join(src, 'ci/buildspec.yml')}: no such buildspec file`,
    );
  });
});
