/**
 * The canary on one machine, with real processes and real HTTP through the weighted proxy: weights
 * exact over many requests, no request lost while they change, a failing green rolled back at the
 * first check, and the compiled deploy action run end to end by the local engine.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { compilePipeline, ErrorName, parsePipeline } from '@stepline/core';
import { createLocalCanary, execute, freePort, type LocalCanary, taskStateNames } from '@stepline/local';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Answer, canaryInput, get, load, type Workspace, workspace } from './helpers/canary-app';

let ws: Workspace;
let port: number;
let canary: LocalCanary;
let lines: string[];

/** The local canary over the workspace, its log lines kept in `lines`. */
const newCanary = () =>
  createLocalCanary({ artifactDir: ws.artifactDir, copyArtifact: ws.copyArtifact, stateDir: ws.stateDir, startTimeoutMs: 10_000, log: (l) => lines.push(l) });

beforeEach(async () => {
  ws = workspace();
  port = await freePort();
  lines = [];
  canary = newCanary();
});

afterEach(async () => {
  await canary.close();
  rmSync(ws.root, { recursive: true, force: true });
});

type Operation = Parameters<typeof canaryInput>[2];
const op = (executionId: string, operation: Operation, extra: Parameters<typeof canaryInput>[3] = {}, threshold?: number) =>
  canary.handle(canaryInput({ port, ...(threshold !== undefined && { errorRateThreshold: threshold }) }, executionId, operation, extra));
const setWeight = (executionId: string, weight: number) => op(executionId, 'setWeight', { step: { type: 'setWeight', weight } });

async function deployAllAtOnce(executionId: string): Promise<void> {
  await op(executionId, 'prepare');
  await setWeight(executionId, 100);
  await op(executionId, 'finalize');
  await op(executionId, 'cleanup');
}

const agent = new Agent({ keepAlive: false });
const answerOnce = () => get(port, agent);
const record = (executionId: string) =>
  JSON.parse(readFileSync(join(ws.stateDir, 'deployments', 'web', executionId, 'Deploy', 'Canary.json'), 'utf8')).record as {
    status: string;
    initial?: boolean;
  };
const live = () => JSON.parse(readFileSync(join(ws.stateDir, 'live', 'web', 'Deploy', 'Canary.json'), 'utf8')) as { executionId: string };

describe('the local canary', () => {
  it('makes an initial deployment: no blue, so green takes all traffic, and it becomes the live version', async () => {
    ws.build('web', 'exec-1', 'v1');
    await expect(op('exec-1', 'prepare')).resolves.toMatchObject({ Payload: { operation: 'prepare', initial: true } });
    await expect(setWeight('exec-1', 10)).resolves.toMatchObject({ Payload: { greenWeight: 100 } });
    await op('exec-1', 'finalize');
    await op('exec-1', 'cleanup');

    expect(await answerOnce()).toMatchObject({ status: 200, body: 'v1', version: 'exec-1' });
    expect(lines.some((l) => l.includes('initial deployment: nothing is live yet'))).toBe(true);
    expect(record('exec-1')).toMatchObject({ status: 'Succeeded', initial: true });
    expect(live()).toMatchObject({ executionId: 'exec-1' });
  });

  it('keeps each weight within 1 point over 10,000 requests, and fails no request while weights change and blue leaves', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    await op('exec-2', 'prepare');

    const weights = [10, 25, 50, 75, 90];
    let epoch = -1;
    const traffic = load(port, 16, () => epoch);
    const perWeight = 2_100;
    for (const [i, weight] of weights.entries()) {
      await setWeight('exec-2', weight);
      epoch = i;
      while (traffic.answers.filter((a) => a.epoch === i).length < perWeight) await new Promise((r) => setTimeout(r, 10));
    }
    await op('exec-2', 'finalize');
    epoch = 100;
    await op('exec-2', 'cleanup');
    epoch = 101;
    await traffic.until(traffic.answers.length + 200);
    const answers = await traffic.stop();

    const failed = answers.filter((a) => a.status !== 200);
    expect(failed, JSON.stringify(failed.slice(0, 3))).toStrictEqual([]);
    const shares = weights.map((weight, i) => {
      const sent = answers.filter((a) => a.epoch === i);
      return { weight, requests: sent.length, share: (100 * sent.filter((a) => a.version === 'exec-2').length) / sent.length };
    });
    expect(shares.reduce((n, s) => n + s.requests, 0)).toBeGreaterThanOrEqual(10_000);
    for (const s of shares) expect(Math.abs(s.share - s.weight), JSON.stringify(s)).toBeLessThanOrEqual(1);
    expect(answers.filter((a) => a.epoch === 101).every((a: Answer) => a.body === 'v2')).toBe(true);
    expect(live()).toMatchObject({ executionId: 'exec-2' });
  });

  it('rolls back a green that answers 500s at the first check after the weight moved', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-3', 'v3', 'fail');
    await deployAllAtOnce('exec-1');
    await op('exec-3', 'prepare', {}, 0.05);
    const traffic = load(port, 8);
    await traffic.until(300); // warm: a cold process answers a few hundred requests a second
    const checkIntervalMs = 1_000;

    const shifted = Date.now();
    await setWeight('exec-3', 10);
    await new Promise((r) => setTimeout(r, checkIntervalMs)); // the bake: one check interval
    const check = op('exec-3', 'checkAlarms');
    await expect(check).rejects.toMatchObject({ name: ErrorName.CanaryAlarm, message: expect.stringMatching(/^alarm green 5xx rate: \d+ of \d+ requests/) });
    await op('exec-3', 'rollback', { reason: 'alarm green 5xx rate' });
    const rolledBack = Date.now();
    const after = traffic.answers.length;
    await traffic.until(after + 300);
    const answers = await traffic.stop();

    expect(rolledBack - shifted).toBeLessThan(checkIntervalMs + 1_000);
    expect(answers.slice(after).every((a) => a.status === 200 && a.body === 'v1')).toBe(true);
    expect(answers.filter((a) => a.status !== 200).every((a) => a.version === 'exec-3')).toBe(true);
    expect(record('exec-3')).toMatchObject({ status: 'RolledBack' });
    expect(live()).toMatchObject({ executionId: 'exec-1' });
  });

  it('runs hook commands in the deployment’s working copy; a failing BeforeAllowTraffic rolls back before any traffic moved', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    const hooks = {
      AfterInstall: { command: 'node -e "fetch(process.env.GREEN_URL).then(async (r) => process.exit((await r.text()) === \'v2\' ? 0 : 1))"' },
      BeforeAllowTraffic: { function: 'validate', command: 'echo not ready; exit 3' },
    };
    await op('exec-2', 'prepare', { hooks });
    await expect(op('exec-2', 'hook', { hooks, step: { type: 'hook', hook: 'AfterInstall' } })).resolves.toMatchObject({ Payload: { operation: 'hook' } });
    await expect(op('exec-2', 'hook', { hooks, step: { type: 'hook', hook: 'BeforeAllowTraffic' } })).rejects.toMatchObject({
      name: ErrorName.HookFailed,
      message: 'BeforeAllowTraffic hook failed: `echo not ready; exit 3` exited with 3: not ready',
    });
    await op('exec-2', 'rollback', { hooks, reason: 'BeforeAllowTraffic hook failed' });

    const answers = await Promise.all(Array.from({ length: 50 }, () => answerOnce()));
    expect(answers.every((a) => a.body === 'v1')).toBe(true);
    expect(record('exec-2')).toMatchObject({ status: 'RolledBack' });
    // The rolled-back version's working copy is gone; the live one keeps its own to start again.
    const work = (executionId: string) => join(ws.stateDir, 'work', 'web', 'Deploy', 'Canary', executionId);
    expect(existsSync(work('exec-2'))).toBe(false);
    expect(JSON.parse(readFileSync(join(work('exec-1'), 'version.json'), 'utf8'))).toMatchObject({ version: 'v1' });
  });

  it('after all traffic moved, a failing AfterAllowTraffic hook sends every request back to the old version', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    const hooks = { AfterAllowTraffic: { function: 'smoke', command: 'exit 4' } };
    await op('exec-2', 'prepare', { hooks });
    await setWeight('exec-2', 100);
    await op('exec-2', 'finalize', { hooks });
    expect((await Promise.all(Array.from({ length: 20 }, () => answerOnce()))).map((a) => a.body)).toStrictEqual(Array(20).fill('v2'));

    await expect(op('exec-2', 'hook', { hooks, step: { type: 'hook', hook: 'AfterAllowTraffic' } })).rejects.toMatchObject({ name: ErrorName.HookFailed });
    await op('exec-2', 'rollback', { hooks, reason: 'AfterAllowTraffic hook failed' });

    expect((await Promise.all(Array.from({ length: 50 }, () => answerOnce()))).map((a) => a.body)).toStrictEqual(Array(50).fill('v1'));
    expect(live()).toMatchObject({ executionId: 'exec-1' });
  });

  it('leaves the same state when an operation is called twice', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    const steps: Array<[Operation, Parameters<typeof canaryInput>[3]]> = [
      ['prepare', {}],
      ['setWeight', { step: { type: 'setWeight', weight: 50 } }],
      ['checkAlarms', {}],
      ['finalize', {}],
      ['cleanup', {}],
    ];
    for (const [operation, extra] of steps) {
      const first = await op('exec-2', operation, extra);
      const second = await op('exec-2', operation, extra);
      expect(second, operation).toStrictEqual(first);
    }
    const answers = await Promise.all(Array.from({ length: 20 }, () => answerOnce()));
    expect(answers.every((a) => a.body === 'v2')).toBe(true);
    await op('exec-2', 'rollback', { reason: 'late' });
    expect((await answerOnce()).body).toBe('v2');
  });

  it('starts the live version of an earlier run again as blue', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    await canary.close();
    expect((await answerOnce()).status).toBe(0);

    canary = newCanary();
    await expect(op('exec-2', 'prepare')).resolves.toMatchObject({ Payload: { blue: { id: 'exec-1' }, green: { id: 'exec-2' } } });
    await setWeight('exec-2', 50);
    const bodies = new Set((await Promise.all(Array.from({ length: 10 }, () => answerOnce()))).map((a) => a.body));
    expect(bodies).toStrictEqual(new Set(['v1', 'v2']));
    expect(lines.some((l) => l.includes('started the live version again (execution exec-1)'))).toBe(true);
  });

  it('starts again as blue a live version recorded before versions had working copies (its artifact directory only)', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    await canary.close();
    // What an earlier stepline wrote: the sealed artifact's directory, no working copy.
    const record = join(ws.stateDir, 'live', 'web', 'Deploy', 'Canary.json');
    const { workDir, ...old } = JSON.parse(readFileSync(record, 'utf8')) as { workDir: string };
    rmSync(workDir, { recursive: true, force: true });
    writeFileSync(record, JSON.stringify({ ...old, artifactDir: ws.artifactDir('web', 'exec-1', 'Build') }));

    canary = newCanary();
    await expect(op('exec-2', 'prepare')).resolves.toMatchObject({ Payload: { blue: { id: 'exec-1' }, green: { id: 'exec-2' } } });
    await setWeight('exec-2', 50);
    const bodies = new Set((await Promise.all(Array.from({ length: 10 }, () => answerOnce()))).map((a) => a.body));
    expect(bodies).toStrictEqual(new Set(['v1', 'v2']));
  });

  it('rolls back what a stopped execution had in flight, and keeps the live version up with keepLive', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    await op('exec-2', 'prepare');
    await setWeight('exec-2', 50);

    await canary.abortExecution('exec-2');
    const answers = await Promise.all(Array.from({ length: 20 }, () => answerOnce()));
    expect(answers.every((a) => a.body === 'v1')).toBe(true);
    expect(record('exec-2')).toMatchObject({ status: 'RolledBack' });

    await canary.close({ keepLive: true });
    expect((await answerOnce()).body).toBe('v1');
  });

  it('does not wait for a long hook of a stopped execution before rolling it back', async () => {
    ws.build('web', 'exec-1', 'v1');
    ws.build('web', 'exec-2', 'v2');
    await deployAllAtOnce('exec-1');
    const hooks = { AfterInstall: { command: 'sleep 30' } };
    await op('exec-2', 'prepare', { hooks });
    const hook = op('exec-2', 'hook', { hooks, step: { type: 'hook', hook: 'AfterInstall' } });
    hook.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));

    const stopped = Date.now();
    await canary.abortExecution('exec-2');
    expect(Date.now() - stopped).toBeLessThan(5_000);
    await expect(hook).rejects.toMatchObject({
      name: ErrorName.HookFailed,
      message: 'AfterInstall hook failed: `sleep 30` was stopped: the execution was stopped',
    });
    expect(record('exec-2')).toMatchObject({ status: 'RolledBack' });
    expect((await answerOnce()).body).toBe('v1');
  });
});

describe('the compiled deploy action, run by the local engine', () => {
  const pipeline = parsePipeline({
    name: 'web',
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['Build'] }] },
      {
        name: 'Deploy',
        actions: [
          {
            name: 'Canary',
            kind: 'deploy',
            inputArtifacts: ['Build'],
            strategy: { steps: [{ setWeight: 20 }, { pause: { minutes: 1 } }, { setWeight: 60 }, { pause: { minutes: 1 } }] },
            checkIntervalSeconds: 30,
            terminationWaitMinutes: 1,
            hooks: { AfterAllowTraffic: { command: 'test -n "$PROXY_URL"' } },
            local: { command: 'node server.mjs', port: 8080, errorRateThreshold: 0.05 },
          },
        ],
      },
    ],
  });

  /** Bakes of one check interval (30 s) shortened to `bakeMs`: what the check interval is in this test. */
  async function run(executionId: string, bakeMs: number) {
    const local = pipeline.stages[1]?.actions[0];
    if (local?.kind !== 'deploy' || !local.local) throw new Error('fixture');
    local.local.port = port;
    const { definition } = compilePipeline(pipeline);
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const name of taskStateNames(definition)) {
      handlers[name] = name.startsWith('Deploy · Canary') ? (input) => canary.handle(input) : async () => ({ Payload: { variables: {} } });
    }
    const states: string[] = [];
    const execution = execute(definition, {
      input: { variables: {}, source: {} },
      executionName: executionId,
      handlers,
      waitTimeOverrides: { 'Deploy · Canary · bake': bakeMs, 'Deploy · Canary · wait for termination': 10 },
      onEvent: (e) => {
        if (e.type === 'StateEntered') states.push(e.state.name);
      },
    });
    return { outcome: await execution.outcome, states };
  }

  it('deploys step by step, then rolls back a green that answers 500s, failing with Stepline.DeploymentRolledBack', async () => {
    ws.build('web', 'run-1', 'v1');
    ws.build('web', 'run-2', 'v2');
    ws.build('web', 'run-3', 'v3', 'fail');

    const first = await run('run-1', 50);
    expect(first.outcome, JSON.stringify(first)).toMatchObject({ status: 'SUCCEEDED' });
    const second = await run('run-2', 50);
    expect(second.outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(second.states.filter((s) => s === 'Deploy · Canary · run step')).toHaveLength(
      // prepare, 20%, 2 checks, 60%, 2 checks, 100%, finalize, AfterAllowTraffic
      10,
    );
    expect((await answerOnce()).body).toBe('v2');

    const traffic = load(port, 8);
    const started = Date.now();
    const third = await run('run-3', 400);
    const answers = await traffic.stop();
    expect(third.outcome).toMatchObject({
      status: 'FAILED',
      error: ErrorName.DeploymentRolledBack,
      cause: expect.stringMatching(/^Stage Deploy, action Canary rolled back after Stepline\.CanaryAlarm: alarm green 5xx rate: \d+ of \d+ requests/),
    });
    // Rolled back at the first check: one bake (the check interval) after 20% went to green.
    expect(third.states.filter((s) => s === 'Deploy · Canary · bake')).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await answerOnce()).body).toBe('v2');
    expect(answers.filter((a) => a.status !== 200).every((a) => a.version === 'run-3')).toBe(true);
  });
});
