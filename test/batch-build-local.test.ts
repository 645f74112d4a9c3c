/**
 * Batch builds with `stepline run`: the CLI in a fresh project, real git and real shell builds. The
 * builds write what they do to a shared file, so the order depend-on imposes, the parallelism and
 * fast-fail's stop are read from what really ran.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, pipelineYaml, runCli } from './helpers/project';

let project: Project | undefined;
let marks: string | undefined;
afterEach(() => {
  project?.remove();
  if (marks) rmSync(marks, { recursive: true, force: true });
});

/** A batch action over the project's buildspec, its builds told where to write their marks. */
const batchPipeline = (name: string, dir: string, extra = '') =>
  pipelineYaml(
    name,
    `  - name: Build
    actions:
      - { name: Batch, kind: build, inputArtifacts: [Src], batchEnabled: true, environmentVariables: { MARKS: "${dir}" }${extra} }
`,
  );

/** Appends "<what> <identifier>" to the shared order file. */
const mark = (what: string) => `echo "${what} $CODEBUILD_BATCH_BUILD_IDENTIFIER" >> "$MARKS/order.log"`;

describe('batch builds with stepline run', () => {
  it('runs a build graph in depend-on order, independent builds in parallel, records each build, and combines their artifacts', async () => {
    marks = mkdtempSync(join(tmpdir(), 'stepline-batch-'));
    project = createProject({
      'stepline.yml': batchPipeline('graph', marks, ', combineArtifacts: true, outputArtifacts: [All]'),
      'buildspec.yml': `version: 0.2
batch:
  fast-fail: false
  build-graph:
    - identifier: nodejs10
      env: { variables: { NODE: "10" } }
    - identifier: nodejs12
      env: { variables: { NODE: "12" } }
    - identifier: version
      buildspec: ci/version.yml
      depend-on: [nodejs10, nodejs12]
    - identifier: publish
      buildspec: ci/version.yml
      depend-on: [version]
    - identifier: lint
      buildspec: ci/lint.yml
      ignore-failure: true
    - identifier: docs
      buildspec: ci/version.yml
      depend-on: [lint]
phases:
  build:
    commands:
      - ${mark('start')}
      - touch "$MARKS/started.$CODEBUILD_BATCH_BUILD_IDENTIFIER"
      # Each node build waits (up to 10 s) for the other to start: they overlap when they run in parallel.
      - for i in $(seq 1 100); do [ -e "$MARKS/started.nodejs10" ] && [ -e "$MARKS/started.nodejs12" ] && break; sleep 0.1; done
      - mkdir -p out && echo "node $NODE" > out/node.txt
      - ${mark('end')}
artifacts:
  files: [out/node.txt]
`,
      'ci/version.yml': `version: 0.2\nphases:\n  build:\n    commands:\n      - ${mark('start')}\n      - ${mark('end')}\n`,
      'ci/lint.yml': `version: 0.2\nphases:\n  build:\n    commands:\n      - ${mark('start')}\n      - exit 2\n`,
    });

    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 90_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const order = readFileSync(join(marks, 'order.log'), 'utf8').trim().split('\n');
    const at = (line: string) => {
      expect(order).toContain(line);
      return order.indexOf(line);
    };
    expect(at('start version')).toBeGreaterThan(Math.max(at('end nodejs10'), at('end nodejs12')));
    expect(at('start publish')).toBeGreaterThan(at('end version'));
    // lint fails, with ignore-failure: docs, which depends on it, still runs, and the batch succeeds.
    expect(at('start docs')).toBeGreaterThan(at('start lint'));
    if (availableParallelism() >= 2)
      expect(Math.max(at('start nodejs10'), at('start nodejs12'))).toBeLessThan(Math.min(at('end nodejs10'), at('end nodejs12')));

    const [execution] = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ executionId: string }>;
    const id = execution?.executionId ?? '';
    const detail = JSON.parse((await runCli(['get-execution', id, '--json'], { cwd: project.dir })).stdout);
    const statuses = Object.fromEntries(Object.entries(detail.builds as Record<string, { status: string }>).map(([key, b]) => [key, b.status]));
    expect(statuses).toStrictEqual({
      'Build.Batch/nodejs10': 'SUCCEEDED',
      'Build.Batch/nodejs12': 'SUCCEEDED',
      'Build.Batch/version': 'SUCCEEDED',
      'Build.Batch/publish': 'SUCCEEDED',
      'Build.Batch/lint': 'FAILED',
      'Build.Batch/docs': 'SUCCEEDED',
    });
    expect(detail.builds['Build.Batch/version'].batch).toStrictEqual({ identifier: 'version', dependsOn: ['nodejs10', 'nodejs12'], ignoreFailure: false });
    // Each build has a log of its own.
    expect(readFileSync(detail.builds['Build.Batch/nodejs12'].logLocation, 'utf8')).toMatch(/copied to \S+\/All\/nodejs12\n/);

    const text = (await runCli(['get-execution', id], { cwd: project.dir })).stdout;
    expect(text).toMatch(/^Build\.Batch\/lint\s+INSTALL\s+SUCCEEDED.*\n\s+PRE_BUILD\s+SUCCEEDED.*\n\s+BUILD\s+FAILED/m);
    expect(text).toContain('Build.Batch/version ran after nodejs10, nodejs12');

    const manifest = JSON.parse(readFileSync(join(project.dir, '.stepline', 'artifacts', 'graph', id, 'All', 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { path: string }) => f.path).sort()).toStrictEqual(['nodejs10/out/node.txt', 'nodejs12/out/node.txt']);
    expect(readFileSync(join(project.dir, '.stepline', 'artifacts', 'graph', id, 'All', 'nodejs10', 'out', 'node.txt'), 'utf8')).toBe('node 10\n');
  }, 120_000);

  it('with fast-fail, stops the running builds and starts no more when one fails, and fails the action naming it', async () => {
    marks = mkdtempSync(join(tmpdir(), 'stepline-batch-'));
    project = createProject({
      'stepline.yml': batchPipeline('fastfail', marks),
      'buildspec.yml': `version: 0.2
batch:
  fast-fail: true
  build-graph:
    - identifier: broken
      buildspec: ci/broken.yml
    - identifier: slow
    - identifier: after
      depend-on: [slow]
phases:
  build:
    commands:
      - ${mark('start')}
      # Waits for a file nobody writes: only a stop ends it before 30 s.
      - for i in $(seq 1 300); do [ -e "$MARKS/never" ] && break; sleep 0.1; done
      - ${mark('end')}
`,
      'ci/broken.yml': `version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 0.5\n      - exit 4\n`,
    });

    const started = Date.now();
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 90_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/execution \S+ failed in stage Build, action Batch: Stepline.BuildFailed/);
    expect(run.stdout).toContain('the batch failed: broken FAILED (BUILD: exit 4 exited with 4');
    expect(Date.now() - started).toBeLessThan(25_000);
    const order = existsSync(join(marks, 'order.log')) ? readFileSync(join(marks, 'order.log'), 'utf8') : '';
    expect(order).not.toContain('end slow');
    expect(order).not.toContain('start after');

    const [execution] = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ executionId: string }>;
    const detail = JSON.parse((await runCli(['get-execution', execution?.executionId ?? '', '--json'], { cwd: project.dir })).stdout);
    expect(detail.builds['Build.Batch/broken'].status).toBe('FAILED');
    // On one core, slow may not have started before broken failed; when it ran, it was stopped.
    if (detail.builds['Build.Batch/slow']) expect(detail.builds['Build.Batch/slow'].status).toBe('STOPPED');
    expect(detail.builds['Build.Batch/after']).toBeUndefined();
  }, 120_000);

  it('refuses a bad batch before any build runs, naming the file and the path into it', async () => {
    marks = mkdtempSync(join(tmpdir(), 'stepline-batch-'));
    project = createProject({
      'stepline.yml': batchPipeline('badbatch', marks),
      'buildspec.yml': `version: 0.2\nbatch:\n  build-graph:\n    - { identifier: a, depend-on: [b] }\nphases:\n  build:\n    commands:\n      - ${mark('start')}\n`,
    });
    const run = await runCli(['run'], { cwd: project.dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/execution \S+ failed in stage Build, action Batch: Stepline.DefinitionInvalid/);
    expect(run.stdout).toContain('buildspec.yml: batch.build-graph[0].depend-on[0]: no build of the batch is named "b"');
    expect(existsSync(join(marks, 'order.log'))).toBe(false);
  }, 60_000);
});
