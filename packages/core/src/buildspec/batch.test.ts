import { describe, expect, it } from 'vitest';
import { refusalOf } from '../testing';
import { parseBuildspecText } from './parse';

const batchOf = (yaml: string) => parseBuildspecText(`version: 0.2\nphases:\n  build:\n    commands: [make]\n${yaml}`).buildspec.batch;

/** The problems a buildspec (after its version line) is refused with, as `path: message` lines. */
const problems = (yaml: string) => refusalOf(() => parseBuildspecText(`version: 0.2\n${yaml}`));

describe('batch builds', () => {
  it('expands the documented build graph: build2 after build1, build3 after build2, each with its variables and buildspec', () => {
    // The dependency chain of CodeBuild's "Build graph" example.
    const batch = batchOf(`
batch:
  fast-fail: false
  build-graph:
    - identifier: build1
      env:
        variables:
          BUILD_ID: build1
      ignore-failure: false
    - identifier: build2
      buildspec: build2.yml
      env:
        variables:
          BUILD_ID: build2
      depend-on:
        - build1
    - identifier: build3
      env:
        variables:
          BUILD_ID: build3
      depend-on:
        - build2
`);
    expect(batch).toStrictEqual({
      type: 'build-graph',
      fastFail: false,
      builds: [
        { identifier: 'build1', variables: { BUILD_ID: 'build1' }, container: {}, dependOn: [], ignoreFailure: false },
        { identifier: 'build2', buildspec: 'build2.yml', variables: { BUILD_ID: 'build2' }, container: {}, dependOn: ['build1'], ignoreFailure: false },
        { identifier: 'build3', variables: { BUILD_ID: 'build3' }, container: {}, dependOn: ['build2'], ignoreFailure: false },
      ],
    });
  });

  it('expands the documented build list, keeping container settings for AWS and noting they are ignored locally', () => {
    const parsed = parseBuildspecText(`version: 0.2
phases: {build: {commands: [make]}}
batch:
  fast-fail: false
  build-list:
    - identifier: linux_small
      env:
        compute-type: BUILD_GENERAL1_SMALL
    - identifier: windows_medium
      ignore-failure: true
      env:
        type: WINDOWS_CONTAINER
        image: aws/codebuild/windows-base:2.0
        compute-type: BUILD_GENERAL1_MEDIUM
`);
    expect(parsed.buildspec.batch?.builds).toStrictEqual([
      { identifier: 'linux_small', variables: {}, container: { 'compute-type': 'BUILD_GENERAL1_SMALL' }, dependOn: [], ignoreFailure: false },
      {
        identifier: 'windows_medium',
        variables: {},
        container: { 'compute-type': 'BUILD_GENERAL1_MEDIUM', image: 'aws/codebuild/windows-base:2.0', type: 'WINDOWS_CONTAINER' },
        dependOn: [],
        ignoreFailure: true,
      },
    ]);
    expect(parsed.notes.map((n) => n.path)).toContain('batch.build-list[1].env.image');
  });

  it('expands the documented build matrix into six builds, images outermost, each with the static settings', () => {
    const batch = batchOf(`
batch:
  build-matrix:
    static:
      ignore-failure: false
      env:
        type: LINUX_CONTAINER
        privileged-mode: true
    dynamic:
      env:
        image:
          - aws/codebuild/amazonlinux2-x86_64-standard:3.0
          - aws/codebuild/windows-base:2.0
        variables:
          MY_VAR:
            - VALUE1
            - VALUE2
            - VALUE3
`);
    const builds = batch?.builds ?? [];
    expect(builds.map((b) => [b.identifier, b.container.image, b.variables.MY_VAR])).toStrictEqual([
      ['build1', 'aws/codebuild/amazonlinux2-x86_64-standard:3.0', 'VALUE1'],
      ['build2', 'aws/codebuild/amazonlinux2-x86_64-standard:3.0', 'VALUE2'],
      ['build3', 'aws/codebuild/amazonlinux2-x86_64-standard:3.0', 'VALUE3'],
      ['build4', 'aws/codebuild/windows-base:2.0', 'VALUE1'],
      ['build5', 'aws/codebuild/windows-base:2.0', 'VALUE2'],
      ['build6', 'aws/codebuild/windows-base:2.0', 'VALUE3'],
    ]);
    for (const build of builds) {
      expect(build).toMatchObject({ ignoreFailure: false, dependOn: [], container: { type: 'LINUX_CONTAINER', 'privileged-mode': 'true' } });
    }
    expect(builds[4]?.label).toBe('image=aws/codebuild/windows-base:2.0, MY_VAR=VALUE2');
  });

  it('multiplies buildspecs by variables in a matrix, and a static variable reaches every build', () => {
    const batch = batchOf(`
batch:
  build-matrix:
    static: {env: {variables: {TESTS: integration}}}
    dynamic:
      buildspec: [matrix1.yml, matrix2.yml]
      env: {variables: {A: [x, y], B: ['1', '2']}}
`);
    expect(batch?.builds.map((b) => [b.buildspec, b.variables])).toStrictEqual([
      ['matrix1.yml', { TESTS: 'integration', A: 'x', B: '1' }],
      ['matrix1.yml', { TESTS: 'integration', A: 'x', B: '2' }],
      ['matrix1.yml', { TESTS: 'integration', A: 'y', B: '1' }],
      ['matrix1.yml', { TESTS: 'integration', A: 'y', B: '2' }],
      ['matrix2.yml', { TESTS: 'integration', A: 'x', B: '1' }],
      ['matrix2.yml', { TESTS: 'integration', A: 'x', B: '2' }],
      ['matrix2.yml', { TESTS: 'integration', A: 'y', B: '1' }],
      ['matrix2.yml', { TESTS: 'integration', A: 'y', B: '2' }],
    ]);
  });

  it('numbers the builds of a list that names none, and accepts a batch-only file whose builds name their buildspecs', () => {
    const parsed = parseBuildspecText('version: 0.2\nbatch:\n  build-list:\n    - buildspec: a.yml\n    - buildspec: b.yml\n');
    expect(parsed.buildspec.hasPhases).toBe(false);
    expect(parsed.buildspec.batch?.builds.map((b) => [b.identifier, b.buildspec])).toStrictEqual([
      ['build1', 'a.yml'],
      ['build2', 'b.yml'],
    ]);
  });

  it('refuses bad batches, each problem with its path', () => {
    expect(problems('batch:\n  build-list:\n    - identifier: node20\n')).toStrictEqual([
      'batch.build-list[0].buildspec: missing: this build would run the phases of this file, which declares none; name its buildspec',
    ]);
    const phases = 'phases: {build: {commands: [make]}}\n';
    expect(problems(`${phases}batch:\n  fast-fail: true\n`)).toStrictEqual(['batch: missing: expected build-list, build-matrix or build-graph']);
    expect(problems(`${phases}batch:\n  build-list: [{identifier: a}]\n  build-graph: [{identifier: b}]\n`)).toStrictEqual([
      'batch.build-graph: a batch has one type: this one also declares build-list',
    ]);
    expect(
      problems(`${phases}batch:
  build-graph:
    - identifier: a
      depend-on: [c]
    - identifier: a
    - env: {variables: {X: '1'}}
    - identifier: has-dash
`),
    ).toStrictEqual([
      'batch.build-graph[2].identifier: missing: every build of a graph needs an identifier',
      'batch.build-graph[1].identifier: a is already the identifier of batch.build-graph[0]',
      'batch.build-graph[3].identifier: expected letters, digits and _ (CodeBuild\'s identifiers), got "has-dash"',
      'batch.build-graph[0].depend-on[0]: no build of the batch is named "c"',
    ]);
    expect(
      problems(
        `${phases}batch:\n  build-graph:\n    - {identifier: a, depend-on: [c]}\n    - {identifier: b, depend-on: [a]}\n    - {identifier: c, depend-on: [b]}\n`,
      ),
    ).toStrictEqual(['batch.build-graph[0].depend-on: builds depend on each other: a → c → b → a']);
    expect(problems(`${phases}batch:\n  build-list:\n    - {identifier: a}\n    - {identifier: b, depend-on: [a]}\n`)).toStrictEqual([
      'batch.build-list[1].depend-on: only a build-graph orders its builds: use build-graph',
    ]);
    expect(problems(`${phases}batch:\n  build-fanout: {parallelism: 5}\n`)).toStrictEqual([
      'batch.build-fanout: build-fanout (tests split across builds) is not supported: use a build-list or build-matrix',
    ]);
    expect(problems(`${phases}batch:\n  build-graph:\n    - {identifier: a}\n    - {identifier: b, depends-on: [a]}\n`)).toStrictEqual([
      'batch.build-graph[1].depends-on: unknown key',
    ]);
    expect(problems(`${phases}batch:\n  fast-fail: maybe\n  build-list: [{identifier: a, ignore-failure: sometimes}]\n`)).toStrictEqual([
      'batch.fast-fail: expected yes or no, got "maybe"',
      'batch.build-list[0].ignore-failure: expected yes or no, got "sometimes"',
    ]);
  });
});
