import { describe, expect, it } from 'vitest';
import { refusalOf } from '../testing';
import { parseBuildspecText } from './parse';

/** The problems a buildspec is refused with, as `path: message` lines. */
const problems = (yaml: string) => refusalOf(() => parseBuildspecText(yaml, 'buildspec.yml'));

const notesOf = (yaml: string) => parseBuildspecText(yaml).notes.map((n) => `${n.path}: ${n.message}`);

describe('parseBuildspecText', () => {
  it('normalizes a full buildspec into lists, camelCase names and CodeBuild defaults', () => {
    const { buildspec } = parseBuildspecText(`
version: 0.2
env:
  shell: /bin/bash
  variables:
    REGION: eu-west-1
  parameter-store:
    DB_HOST: /prod/db/host
  secrets-manager:
    API_KEY: prod/api-key:api_key
  exported-variables:
    - IMAGE_TAG
phases:
  build:
    on-failure: CONTINUE
    commands:
      - make
    finally:
      - make clean
artifacts:
  files:
    - dist/**/*
  name: web
  discard-paths: yes
  base-directory: out
  exclude-paths: ['**/*.map']
  secondary-artifacts:
    logs:
      files: logs/*
cache:
  paths:
    - node_modules/**/*
reports:
  unit:
    files: [junit.xml]
`);
    expect(buildspec).toStrictEqual({
      version: '0.2',
      env: {
        shell: 'bash',
        variables: { REGION: 'eu-west-1' },
        parameterStore: { DB_HOST: '/prod/db/host' },
        secretsManager: { API_KEY: 'prod/api-key:api_key' },
        exportedVariables: ['IMAGE_TAG'],
      },
      phases: {
        install: undefined,
        pre_build: undefined,
        build: { commands: ['make'], finally: ['make clean'], onFailure: 'CONTINUE' },
        post_build: undefined,
      },
      artifacts: {
        files: ['dist/**/*'],
        name: 'web',
        discardPaths: true,
        baseDirectory: 'out',
        excludePaths: ['**/*.map'],
        secondary: { logs: { files: ['logs/*'], discardPaths: false, excludePaths: [] } },
      },
      cache: { paths: ['node_modules/**/*'] },
      hasPhases: true,
      reports: { unit: { files: ['junit.xml'], discardPaths: false, fileFormat: 'JUNITXML' } },
    });
  });

  it('reads what real files contain: scalar files, empty items, null commands, block scalars and CRLF', () => {
    const crlf = [
      'version: 0.2',
      'phases:',
      '  install:',
      '    commands:',
      '    - echo one',
      '    -',
      '    - |',
      '      if true; then',
      '        echo two',
      '      fi',
      '    - >-',
      '      npm install -g',
      '      turbo',
      '  post_build:',
      '    commands:',
      'artifacts:',
      '    files: imagedefinitions.json',
      '',
    ].join('\r\n');
    const { buildspec } = parseBuildspecText(crlf);
    expect(buildspec.phases.install?.commands).toStrictEqual(['echo one', 'if true; then\n  echo two\nfi\n', 'npm install -g turbo']);
    expect(buildspec.phases.post_build).toStrictEqual({ commands: [], finally: [] });
    expect(buildspec.artifacts?.files).toStrictEqual(['imagedefinitions.json']);
  });

  it('keeps scalars as written where CodeBuild reads text, and reads YAML 1.1 booleans where it wants one', () => {
    const { buildspec } = parseBuildspecText(`
version: 0.2
env:
  variables:
    PYTHON: 3.10
    CI: true
    ANSWER: yes
    EMPTY:
phases:
  build:
    commands:
      - true
artifacts:
  files: ['**/*']
  discard-paths: no
  enable-symlinks: On
`);
    expect(buildspec.env.variables).toStrictEqual({ PYTHON: '3.10', CI: 'true', ANSWER: 'yes', EMPTY: '' });
    expect(buildspec.phases.build?.commands).toStrictEqual(['true']);
    expect(buildspec.artifacts?.discardPaths).toBe(false);
  });

  it('reports every problem at once, each with its key path and what was given', () => {
    expect(
      problems(`
version: 0.3
env:
  shell: powershell.exe
  variables:
    A-B: x
  exported-variables: [OK, 1NOPE]
phases:
  build:
    on-failure: STOP
    commands: [make]
artifacts:
  files: [a]
  discard-paths: maybe
reports:
  unit:
    file-format: XML
`),
    ).toStrictEqual([
      'version: expected 0.2 (or 0.1), got "0.3"',
      `env.shell: expected bash or /bin/sh (Windows shells don't run on this machine), got "powershell.exe"`,
      'env.variables.A-B: expected an environment variable name (letters, digits and _, not starting with a digit), got "A-B"',
      'env.exported-variables[1]: expected an environment variable name (letters, digits and _, not starting with a digit), got "1NOPE"',
      'phases.build.on-failure: expected ABORT or CONTINUE, got "STOP"',
      'artifacts.discard-paths: expected yes or no, got "maybe"',
      'reports.unit.files: missing: expected a list of file paths or globs',
      'reports.unit.file-format: expected one of JUNITXML, CUCUMBERJSON, TESTNGXML, VISUALSTUDIOTRX, NUNITXML, NUNIT3XML, CLOVERXML, COBERTURAXML, JACOCOXML, SIMPLECOV, got "XML"',
    ]);
  });

  it('refuses misspelt phases and phase keys, since they change what runs', () => {
    expect(problems('version: 0.2\nphases:\n  prebuild:\n    commands: [a]\n  build:\n    comands: [b]\n')).toStrictEqual([
      'phases.build.comands: unknown key',
      'phases.prebuild: unknown key',
    ]);
  });

  it('ignores unknown keys elsewhere with a note, as CodeBuild does', () => {
    const parsed = parseBuildspecText('version: 0.2\nenv:\n  compute-type: BUILD_GENERAL1_MEDIUM\n  variables: {A: b}\nphases:\n  build:\n    commands: [a]\n');
    expect(parsed.buildspec.env.variables).toStrictEqual({ A: 'b' });
    expect(parsed.notes).toStrictEqual([{ path: 'env.compute-type', message: 'unknown key, ignored' }]);
  });

  it('reads a batch beside the phases, and says when it declares no builds', () => {
    expect(notesOf('version: 0.2\nbatch:\n  build-matrix: {}\nphases:\n  build:\n    commands: [a]\n')).toStrictEqual([
      'batch.build-matrix: declares no builds: a batch action running this file fails',
    ]);
  });

  it('requires phases and names what is missing', () => {
    expect(problems('version: 0.2\nenv:\n  variables: {A: b}\n')).toStrictEqual([
      'phases: missing: expected the phases to run (install, pre_build, build, post_build)',
    ]);
    expect(problems('version: 0.2\nphases: {build: {commands: [a]}}\nartifacts:\n  name: x\n')).toStrictEqual([
      'artifacts.files: missing: expected file paths or globs',
    ]);
  });

  it('accepts what it does not act on locally and says so: version 0.1, runtime-versions, git-credential-helper, other report formats', () => {
    expect(
      notesOf(`
version: 0.1
env:
  git-credential-helper: yes
phases:
  install:
    runtime-versions:
      nodejs: 20
reports:
  coverage:
    files: [clover.xml]
    file-format: CLOVERXML
  tests:
    files: [junit.xml]
    file-format: junit
`),
    ).toStrictEqual([
      'version: 0.1 runs every command in a fresh shell: a cd or a variable does not carry over to the next command (0.2 keeps them)',
      "env.git-credential-helper: ignored locally: git uses this machine's own credentials",
      "phases.install.runtime-versions: ignored locally: commands use the tools on this machine's PATH (wanted: nodejs 20)",
      'reports.coverage.file-format: CLOVERXML is not read locally: only JUNITXML test reports are counted',
    ]);
    expect(parseBuildspecText('version: 0.2\nphases: {}\nreports:\n  t: {files: [a], file-format: JUNIT}\n').buildspec.reports.t?.fileFormat).toBe('JUNITXML');
  });

  it('names the line of malformed YAML and refuses an empty file', () => {
    expect(problems('version: 0.2\nphases:\n  build:\n    commands:\n      - "unterminated\n')[0]).toMatch(/^: malformed YAML at line \d+, column \d+/);
    expect(problems('   \n')).toStrictEqual([': the file is empty']);
    expect(problems('# only a comment\n')).toStrictEqual([': expected a buildspec: a map with version and phases']);
  });
});
