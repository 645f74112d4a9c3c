/**
 * The embedded runtime through its API: approvals decided over real HTTP, stage transitions held and
 * released, retry from the failed stage, artifacts checked against their manifests.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineHash, parsePipelineText } from '@stepline/core';
import { LocalRuntime, localPipelineState, type RunResult } from '@stepline/local';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../packages/cli/src/local-backend';
import { linkRuntime } from './helpers/approval-runtime';
import { processesWithEnvironment, processState } from './helpers/processes';
import { createProject, type Project, SOURCE_STAGE } from './helpers/project';

let project: Project | undefined;
let runtime: LocalRuntime | undefined;
let closeLinks: (() => Promise<void>) | undefined;
afterEach(async () => {
  if (closeLinks) await closeLinks();
  else await runtime?.close();
  project?.remove();
  closeLinks = runtime = project = undefined;
});

const SOURCE = `\n${SOURCE_STAGE}`;

async function until<T>(what: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = what();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('approvals over HTTP', () => {
  it('shows the form on GET without deciding, decides on POST once, and records approver and comment', async () => {
    project = createProject({
      'stepline.yml': `name: appr\nstages:${SOURCE}\n  - name: Gate\n    actions: [{ name: Ok, kind: approval, customData: "ship it?" }]\n`,
    });
    const served = linkRuntime(project.dir);
    closeLinks = served.close;
    runtime = served.runtime;
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const running = runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    const { approveUrl: approve, rejectUrl: reject } = await served.links();

    const form = await fetch(approve);
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('ship it?');
    await new Promise((r) => setTimeout(r, 300));
    expect(runtime.store.listExecutions()[0]?.status).toBe('InProgress');

    const token = approve.split('/').pop() ?? '';
    const forged = await fetch(`${approve.slice(0, -3)}abc`, { method: 'POST', body: new URLSearchParams({ token, comment: 'x' }) });
    expect(forged.status).toBe(403);
    const decided = await fetch(approve, { method: 'POST', body: new URLSearchParams({ token, email: 'ana@example.com', comment: 'looks good' }) });
    expect(decided.status).toBe(200);
    const result = await running;
    expect(result.status).toBe('Succeeded');
    expect(runtime.store.approvals(result.executionId)).toMatchObject([{ status: 'Approved', decidedBy: 'ana@example.com', comment: 'looks good' }]);

    const reused = await fetch(approve, { method: 'POST', body: new URLSearchParams({ token, comment: 'again' }) });
    expect(reused.status).toBe(409);
    const rejectToken = reject.split('/').pop() ?? '';
    expect((await fetch(reject, { method: 'POST', body: new URLSearchParams({ token: rejectToken }) })).status).toBe(409);
  });

  it('fails the execution with Stepline.ApprovalRejected when rejected from another terminal', async () => {
    project = createProject({ 'stepline.yml': `name: rej\nstages:${SOURCE}\n  - name: Gate\n    actions: [{ name: Ok, kind: approval }]\n` });
    runtime = new LocalRuntime({ project: project.dir, approval: { mode: 'link' } });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const running = runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    const approval = await until(() => runtime?.store.approvals(runtime.store.listExecutions()[0]?.id ?? '')[0]);
    runtime.approvals.decide(approval.id, 'reject', 'bob@example.com', 'not today');
    const result = await running;
    expect(result).toMatchObject({
      status: 'Failed',
      error: 'Stepline.ApprovalRejected',
      cause: 'Stage Gate, action Ok failed: rejected by bob@example.com: not today',
    });
  });
});

/** A source and a Deploy stage whose entry is disabled, in a fresh project and runtime. */
function withDeployDisabled(name: string, reason: string) {
  const created = createProject({
    'stepline.yml': `name: ${name}\nstages:${SOURCE}\n  - name: Deploy\n    actions: [{ name: Go, kind: invoke, command: "true" }]\n`,
  });
  const local = new LocalRuntime({ project: created.dir });
  local.store.applyGate(name, { type: 'disable', stage: 'Deploy', reason, at: new Date().toISOString() });
  project = created;
  runtime = local;
  return { pipeline: parsePipelineText(readFileSync(join(created.dir, 'stepline.yml'), 'utf8')), project: created, runtime: local };
}

describe('stage transitions on one machine', () => {
  it('holds an execution at a disabled stage entry, shows why, and lets it in when enabled', async () => {
    const { pipeline, project, runtime } = withDeployDisabled('hold', 'change freeze');
    let done: RunResult | undefined;
    const running = runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir }).then((r) => {
      done = r;
      return r;
    });
    const state = await until(() => {
      const s = localPipelineState((runtime as LocalRuntime).store, pipeline);
      return s.stages[1]?.status === 'Waiting' ? s : undefined;
    });
    expect(state.stages[1]).toMatchObject({
      name: 'Deploy',
      status: 'Waiting',
      inboundTransition: { enabled: false, reason: 'change freeze' },
      held: { reason: 'transition disabled: change freeze' },
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(done).toBeUndefined();
    runtime.store.applyGate('hold', { type: 'enable', stage: 'Deploy' }, pipeline.executionMode);
    expect((await running).status).toBe('Succeeded');
    expect(localPipelineState(runtime.store, pipeline).stages[1]).toMatchObject({ status: 'Succeeded', inboundTransition: { enabled: true } });
  });
});

describe('stopping', () => {
  it('stops at once an execution held at a stage entry, even without --abandon', async () => {
    const { pipeline, project, runtime } = withDeployDisabled('held', 'freeze');
    const running = runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    const state = await until(() => (localPipelineState((runtime as LocalRuntime).store, pipeline).stages[1]?.status === 'Waiting' ? true : undefined));
    expect(state).toBe(true);
    const id = runtime.store.listExecutions()[0]?.id ?? '';
    runtime.store.requestStop(id, 'stop');
    const result = await running;
    expect(result.status).toBe('Stopped');
    expect(runtime.store.gateState('held').waiting).toStrictEqual({});
  });
});

describe('retry-stage-execution', () => {
  it('re-runs a failed execution from its failed stage, keeping what earlier stages produced', async () => {
    project = createProject({
      'stepline.yml': `name: flaky\nstages:${SOURCE}\n  - name: Test\n    actions: [{ name: Flaky, kind: invoke, command: "echo run >> \\"$COUNTER\\"; test -f \\"$FIXED\\"", inputArtifacts: [Src] }]\n`,
    });
    const counter = join(project.dir, 'counter');
    const fixed = join(project.dir, 'fixed');
    process.env.COUNTER = counter;
    process.env.FIXED = fixed;
    runtime = new LocalRuntime({ project: project.dir });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const failed = await runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    expect(failed).toMatchObject({ status: 'Failed', failure: { stage: 'Test', action: 'Flaky' } });
    const sourceEvents = runtime.store.events(failed.executionId).filter((e) => e.state === 'Source · Checkout').length;

    writeFileSync(fixed, '');
    const retried = await runtime.retry(failed.executionId, project.dir);
    expect(retried).toMatchObject({ executionId: failed.executionId, status: 'Succeeded' });
    expect(readFileSync(counter, 'utf8')).toBe('run\nrun\n');
    // The source stage did not run again.
    expect(runtime.store.events(failed.executionId).filter((e) => e.state === 'Source · Checkout').length).toBe(sourceEvents);
    expect(runtime.store.getExecution(failed.executionId)?.attempt).toBe(2);
    delete process.env.COUNTER;
    delete process.env.FIXED;
  });
  it('runs from its start an execution whose runner was killed before it entered its first stage', async () => {
    // Prepare: the execution as `run` records it before its first state, by a runner that has ended.
    project = createProject({
      'app.txt': 'hello\n',
      'stepline.yml': `name: early\nstages:${SOURCE}\n  - name: Use\n    actions: [{ name: Read, kind: invoke, command: "cat app.txt", inputArtifacts: [Src] }]\n`,
    });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const first = new LocalRuntime({ project: project.dir });
    const compiled = first.compile(pipeline);
    const deadPid = spawnSync('true').pid;
    first.store.createExecution({
      id: 'killed-early',
      pipeline: 'early',
      triggerType: 'StartPipelineExecution',
      startedAt: new Date().toISOString(),
      input: { pipeline: 'early', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} },
      pid: deadPid,
      machine: { pipeline, stateMap: compiled.stateMap, machineHash: machineHash(compiled.definition) },
    });
    await first.close();

    // Act: the next runtime marks it; retry-stage-execution resumes it.
    runtime = new LocalRuntime({ project: project.dir });
    expect(runtime.store.getExecution('killed-early')).toMatchObject({ status: 'Failed', error: 'Stepline.ProcessEnded' });
    const retried = await runtime.retry('killed-early', project.dir);

    // Assess
    expect(retried).toMatchObject({ executionId: 'killed-early', status: 'Succeeded' });
    expect(runtime.store.getExecution('killed-early')?.attempt).toBe(2);
    expect(runtime.artifacts.exists('early', 'killed-early', 'Src')).toBe(true);
  });
});

describe('history keeps the pipeline each execution ran', () => {
  const twoStages = (build: string) =>
    `name: kept\nstages:${SOURCE}\n  - name: ${build}\n    actions: [{ name: Make, kind: invoke, command: "true", inputArtifacts: [Src] }]\n`;

  it('shows an execution as it ran after a stage is renamed in the file (get-execution, get-pipeline-state)', async () => {
    // Prepare: a run of Source → Build, then Build renamed to Compile in the definition file.
    project = createProject({ 'stepline.yml': twoStages('Build') });
    runtime = new LocalRuntime({ project: project.dir });
    const ran = await runtime.run({ pipeline: parsePipelineText(twoStages('Build')), file: join(project.dir, 'stepline.yml'), repo: project.dir });
    expect(ran.status).toBe('Succeeded');
    await runtime.close();
    runtime = undefined;
    project.write('stepline.yml', twoStages('Compile'));

    // Act: read it back as the CLI's verbs do, from a new process's view of the history.
    const backend = new LocalBackend(project.dir);
    const detail = await backend.getExecution(ran.executionId);
    const state = await backend.getPipelineState('kept', ran.executionId);
    const latest = await backend.getPipelineState('kept');
    backend.close();

    // Assess: the stages it ran, each with its outcome; nothing of today's Compile.
    const asRan = [
      { name: 'Source', status: 'Succeeded', actions: [{ name: 'Checkout', status: 'Succeeded' }] },
      { name: 'Build', status: 'Succeeded', actions: [{ name: 'Make', status: 'Succeeded' }] },
    ];
    expect(detail.state.stages).toMatchObject(asRan);
    expect(detail.state.stages.map((s) => s.name)).toStrictEqual(['Source', 'Build']);
    expect(state.stages).toMatchObject(asRan);
    expect(latest.stages.map((s) => s.name)).toStrictEqual(['Source', 'Build']);
  });

  it('retries an execution with the pipeline it ran, not the renamed one', async () => {
    // Prepare: Build fails, then the file renames it.
    project = createProject({ 'stepline.yml': twoStages('Build').replace('command: "true"', 'command: "test -f \\"$FIXED\\""') });
    const fixed = join(project.dir, 'fixed');
    process.env.FIXED = fixed;
    runtime = new LocalRuntime({ project: project.dir });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const failed = await runtime.run({ pipeline, file: join(project.dir, 'stepline.yml'), repo: project.dir });
    expect(failed).toMatchObject({ status: 'Failed', failure: { stage: 'Build' } });
    project.write('stepline.yml', twoStages('Compile'));
    writeFileSync(fixed, '');

    // Act
    const retried = await runtime.retry(failed.executionId, project.dir);

    // Assess: it went on from Build, the stage it failed in.
    expect(retried.status).toBe('Succeeded');
    expect(localPipelineState(runtime.store, parsePipelineText(twoStages('Compile')), failed.executionId).stages.map((s) => [s.name, s.status])).toStrictEqual([
      ['Source', 'Succeeded'],
      ['Build', 'Succeeded'],
    ]);
    delete process.env.FIXED;
  });
});

describe('artifacts', () => {
  it('seals and verifies thousands of files and links to nothing without running out of file handles', async () => {
    project = createProject({});
    runtime = new LocalRuntime({ project: project.dir });
    const dir = await runtime.artifacts.prepare('p', 'e', 'Many');
    for (let i = 0; i < 3000; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
    symlinkSync('does/not/exist', join(dir, 'dangling'));
    const sealed = await runtime.artifacts.seal('p', 'e', 'Many');
    expect(sealed.files).toBe(3001);
    const verified = await runtime.artifacts.verify('p', 'e', 'Many');
    expect(verified.files).toBe(3001);
    expect(await runtime.artifacts.holds('p', 'e', 'Many', 'dangling')).toBe(true);
    expect(await runtime.artifacts.holds('p', 'e', 'Many', 'manifest.json')).toBe(false);
    await expect(runtime.artifacts.seal('p', 'e', 'Many')).rejects.toThrow('already written');
    // A manifest whose entries are out of order is unreadable, and named so.
    const manifest = join(dir, 'manifest.json');
    const lines = readFileSync(manifest, 'utf8').split('\n');
    [lines[1], lines[2]] = [lines[2] ?? '', lines[1] ?? ''];
    writeFileSync(manifest, lines.join('\n'));
    await expect(runtime.artifacts.verify('p', 'e', 'Many')).rejects.toMatchObject({
      name: 'Stepline.ArtifactInvalid',
      message: expect.stringContaining('artifact Many of execution e: manifest.json is unreadable (line 3: entries are not sorted'),
    });
  });

  it('carries an artifact into another execution as hard links, verified, its manifest listing the same files', async () => {
    project = createProject({});
    runtime = new LocalRuntime({ project: project.dir });
    const dir = await runtime.artifacts.prepare('p', 'old', 'Src');
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
    symlinkSync('f1.txt', join(dir, 'link'));
    // A link to a directory outside is a file of the artifact; nothing through it is.
    symlinkSync(project.dir, join(dir, 'outside'));
    await runtime.artifacts.seal('p', 'old', 'Src');
    expect(await runtime.artifacts.holds('p', 'old', 'Src', 'outside')).toBe(true);
    expect(await runtime.artifacts.holds('p', 'old', 'Src', 'outside/stepline.yml')).toBe(false);

    expect(await runtime.artifacts.carry('p', 'old', 'new', 'Src')).toStrictEqual({ files: 202 });

    const carried = runtime.artifacts.dir('p', 'new', 'Src');
    expect(statSync(join(carried, 'f7.txt')).ino).toBe(statSync(join(dir, 'f7.txt')).ino);
    const entries = (execution: string) =>
      JSON.parse(readFileSync(join(runtime?.artifacts.dir('p', execution, 'Src') ?? '', 'manifest.json'), 'utf8')).files as unknown[];
    expect(entries('new')).toStrictEqual(entries('old'));
    expect(await runtime.artifacts.verify('p', 'new', 'Src')).toStrictEqual({ files: 202 });
    // A changed original is refused, and the half-made artifact is not taken for a whole one.
    appendFileSync(join(dir, 'f3.txt'), 'changed');
    await expect(runtime.artifacts.carry('p', 'old', 'newer', 'Src')).rejects.toThrow('f3.txt (changed)');
    expect(runtime.artifacts.exists('p', 'newer', 'Src')).toBe(false);
  });

  it('seals a build’s primary and secondary outputs as its upload copies them, each under its own name', async () => {
    project = createProject({
      'stepline.yml': `name: outs\nstages:${SOURCE}\n  - name: Build\n    actions: [{ name: Make, kind: build, inputArtifacts: [Src], outputArtifacts: [App, Test-Logs] }]\n  - name: Use\n    actions: [{ name: Read, kind: invoke, command: "cat app.txt", inputArtifacts: [App] }]\n`,
      'buildspec.yml':
        'version: 0.2\nphases:\n  build:\n    commands:\n      - echo app > app.txt\n      - mkdir -p logs && echo unit > logs/unit.log\nartifacts:\n  files: [app.txt]\n  secondary-artifacts:\n    Test_Logs:\n      files: [logs/*.log]\n      discard-paths: yes\n',
    });
    runtime = new LocalRuntime({ project: project.dir });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const result = await runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    expect(result, JSON.stringify(result)).toMatchObject({ status: 'Succeeded' });
    const listed = (artifact: string) =>
      (
        JSON.parse(readFileSync(join(runtime?.artifacts.dir('outs', result.executionId, artifact) ?? '', 'manifest.json'), 'utf8')).files as Array<{
          path: string;
        }>
      ).map((f) => f.path);
    expect(listed('App')).toStrictEqual(['app.txt']);
    expect(listed('Test-Logs')).toStrictEqual(['unit.log']);
  });

  it('fails a consumer whose input artifact changed after it was written, naming the file', async () => {
    project = createProject({
      'stepline.yml': `name: tamper\nstages:${SOURCE}\n  - name: Approve\n    actions: [{ name: Wait, kind: approval }]\n  - name: Use\n    actions: [{ name: Read, kind: invoke, command: "cat app.txt", inputArtifacts: [Src] }]\n`,
      'app.txt': 'original\n',
    });
    runtime = new LocalRuntime({ project: project.dir, approval: { mode: 'link' } });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const running = runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    const approval = await until(() => runtime?.store.approvals(runtime.store.listExecutions()[0]?.id ?? '')[0]);
    const file = join(runtime.artifacts.dir('tamper', approval.executionId, 'Src'), 'app.txt');
    expect(existsSync(file)).toBe(true);
    appendFileSync(file, 'tampered\n');
    runtime.approvals.decide(approval.id, 'approve', 'me', '');
    const result = await running;
    expect(result).toMatchObject({ status: 'Failed', error: 'Stepline.ArtifactInvalid', failure: { stage: 'Use', action: 'Read' } });
    expect(result.cause).toContain('app.txt (changed)');
  });
  it('seals a source whose names git orders apart from the manifest (beyond U+FFFF beside U+FF04), and hands it on intact', async () => {
    // git sorts by UTF-8 bytes (U+FF04 first), a manifest by UTF-16 code units (the surrogates of U+1F600 first).
    project = createProject({
      'stepline.yml': `name: names\nstages:${SOURCE}\n  - name: Use\n    actions: [{ name: Read, kind: invoke, command: "cat d/\u{1F600} d/\uFF04", inputArtifacts: [Src] }]\n`,
      'd/\u{1F600}': 'smile\n',
      'd/\uFF04': 'dollar\n',
      // Enough that git is still writing when the first export is given up (its pipe must close quietly).
      ...Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`e/f${i}.txt`, `${i}`.repeat(10_000)])),
    });
    runtime = new LocalRuntime({ project: project.dir });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const result = await runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    expect(result).toMatchObject({ status: 'Succeeded' });
    const manifest = JSON.parse(readFileSync(join(runtime.artifacts.dir('names', result.executionId, 'Src'), 'manifest.json'), 'utf8'));
    const paths = manifest.files.map((f: { path: string }) => f.path).filter((p: string) => p.startsWith('d/'));
    expect(paths).toStrictEqual(['d/\u{1F600}', 'd/\uFF04']);
  });
});

describe('stopping a build', () => {
  it('writes an execution Stopped only once no process of its build runs, even one that ignores SIGTERM', async () => {
    const pids = mkdtempSync(join(tmpdir(), 'stepline-pids-'));
    const started = join(pids, 'stubborn.started');
    project = createProject({
      'stepline.yml': `name: stubborn\nstages:${SOURCE}\n  - name: Build\n    actions: [{ name: Long, kind: build, inputArtifacts: [Src] }]\n`,
      // The background shell ignores SIGTERM: only the SIGKILL after the kill grace ends it. Every
      // process of the build carries STOP_TEST (as numbers, its pids would be its PID namespace's own).
      'buildspec.yml': `version: 0.2\nenv:\n  variables:\n    STOP_TEST: "${pids}"\nphases:\n  build:\n    commands:\n      - sh -c 'trap "" TERM; touch ${started}; while :; do sleep 0.1; done' & sleep 60\n`,
    });
    runtime = new LocalRuntime({ project: project.dir });
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const running = runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    await until(() => existsSync(started) || undefined);
    expect(processesWithEnvironment('STOP_TEST', pids).length).toBeGreaterThanOrEqual(2);
    runtime.stop(runtime.store.listExecutions()[0]?.id ?? '', 'abandon');
    const result = await running;
    expect(result.status).toBe('Stopped');
    const left = processesWithEnvironment('STOP_TEST', pids).map((pid) => `${pid} (${processState(pid).why})`);
    expect(left, 'build processes outlived their stopped execution').toStrictEqual([]);
    rmSync(pids, { recursive: true, force: true });
  }, 30_000);
});
