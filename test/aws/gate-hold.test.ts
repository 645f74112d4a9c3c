/**
 * A disabled transition on the AWS path: the pipeline compiled for AWS runs on the local engine with
 * every `· enter stage` Task bound to the gate function's own code (dispatchGateEvent → GateService),
 * its state kept in S3 (moto_server) or in memory, and the task-token answers turned back into the
 * Task's result. The execution must wait at the stage entry, show as held in the pipeline state, and
 * go on when the transition is enabled.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type CompiledPipeline, compilePipeline, type HistoryEvent, type Pipeline, parsePipeline, pipelineStateFrom } from '@stepline/core';
import { type EngineEvent, execute, type TaskHandler } from '@stepline/local';
import { describe, expect, it } from 'vitest';
import { dispatchGateEvent } from '../../packages/functions/src/gates/events';
import { GateConflictError, GateService, type GateStore, MemoryGateStore, S3GateStore, type TaskResponder } from '../../packages/functions/src/gates/index';
import { expectHeldAtDeploy } from '../helpers/held';
import { motoClientConfig, motoForSuite, motoSkipReason } from '../helpers/moto-server';

const pipeline: Pipeline = parsePipeline({
  name: 'web',
  stages: [
    { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['src'] }] },
    { name: 'Build', actions: [{ name: 'Compile', kind: 'build', inputArtifacts: ['src'], outputArtifacts: ['out'] }] },
    { name: 'Deploy', actions: [{ name: 'Ship', kind: 'invoke', function: 'ship', inputArtifacts: ['out'] }] },
  ],
});
const compiled: CompiledPipeline = compilePipeline(pipeline, { target: 'aws', region: 'eu-west-1', accountId: '123456789012', artifactBucket: 'artifacts' });
const input = { pipeline: 'web', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} };

/** Binds the compiled machine's Tasks: gates to the gate function's code, the rest to stubs. */
function bindTasks(service: GateService, answers: Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>) {
  let tokens = 0;
  const gate: TaskHandler = async (parameters) => {
    const { Payload } = parameters as { Payload: Record<string, unknown> };
    // The engine gives every Task one token per run; each entry needs its own, as Step Functions mints.
    const token = `token-${++tokens}`;
    const answered = new Promise((resolve, reject) => answers.set(token, { resolve, reject }));
    await dispatchGateEvent({ ...Payload, taskToken: token }, { service, stateMachinePrefix: 'stepline-team-' });
    return answered;
  };
  return {
    'Source · enter stage': gate,
    'Build · enter stage': gate,
    'Deploy · enter stage': gate,
    'Source · Checkout': async () => ({ Payload: { variables: { CommitId: 'c0ffee', BranchName: 'main' } } }),
    'Build · Compile': async () => ({ Build: { Id: 'web:1', BuildNumber: 1, BuildStatus: 'SUCCEEDED' } }),
    'Deploy · Ship': async () => ({ Payload: { ok: true } }),
  } satisfies Record<string, TaskHandler>;
}

function responderFor(answers: Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>): TaskResponder {
  return {
    deliver: async (effect) => {
      const waiter = answers.get(effect.token);
      if (!waiter) return 'gone';
      answers.delete(effect.token);
      if (effect.type === 'proceed') waiter.resolve({ stage: effect.stage });
      else waiter.reject(Object.assign(new Error(`superseded by ${effect.by}`), { name: 'Stepline.Superseded' }));
      return 'answered';
    },
  };
}

function historyOf(events: readonly EngineEvent[]): HistoryEvent[] {
  return events.flatMap((e): HistoryEvent[] => {
    if (e.type !== 'StateEntered' && e.type !== 'StateExited' && e.type !== 'StateFailed') return [];
    const type = e.type === 'StateEntered' ? 'entered' : e.type === 'StateExited' ? 'exited' : 'failed';
    return [{ type, state: e.state.name, at: new Date(e.timestamp).toISOString() }];
  });
}

async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function holdAndRelease(store: GateStore) {
  // Prepare
  const answers = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const service = new GateService({ store, responder: responderFor(answers), sleep: async () => undefined, warn: () => undefined });
  await dispatchGateEvent({ operation: 'disable', pipeline: 'web', stage: 'Deploy', reason: 'release freeze' }, { service, stateMachinePrefix: '' });
  const events: EngineEvent[] = [];

  // Act
  const run = execute(compiled.definition, { input, executionName: 'exec-1', handlers: bindTasks(service, answers), onEvent: (e) => events.push(e) });
  await until('the execution to wait at Deploy', async () => (await store.load('web')).document.state.waiting.Deploy !== undefined);
  // Held, not polling: nothing happens while the transition stays disabled.
  await new Promise((r) => setTimeout(r, 100));
  const heldEvents = events.length;
  await new Promise((r) => setTimeout(r, 100));

  // Assess: held, and shown as held
  expect(events.length).toBe(heldEvents);
  const held = pipelineStateFrom({
    pipeline,
    stateMap: compiled.stateMap,
    execution: { executionId: 'exec-1', status: 'InProgress', events: historyOf(events) },
    gates: (await store.load('web')).document.state,
  });
  expectHeldAtDeploy(held, 'release freeze');
  expect(held.stages[2]?.actions).toMatchObject([{ name: 'Ship', kind: 'invoke' }]);
  expect(held.stages[2]?.actions[0]?.status).toBeUndefined();

  // Act: enable releases it
  await dispatchGateEvent({ operation: 'enable', pipeline: 'web', stage: 'Deploy' }, { service, stateMachinePrefix: '' });
  const outcome = await run.outcome;

  // Assess
  expect(outcome.status).toBe('SUCCEEDED');
  const after = pipelineStateFrom({
    pipeline,
    stateMap: compiled.stateMap,
    execution: { executionId: 'exec-1', status: 'Succeeded', events: historyOf(events) },
    gates: (await store.load('web')).document.state,
  });
  expect(after.stages.map((s) => [s.name, s.status, s.inboundTransition.enabled])).toStrictEqual([
    ['Source', 'Succeeded', true],
    ['Build', 'Succeeded', true],
    ['Deploy', 'Succeeded', true],
  ]);
  expect(answers.size).toBe(0);
}

describe('a disabled transition on the AWS path (compiled machine run locally)', () => {
  it('holds the execution at the stage entry and releases it on enable (in-memory gate state)', async () => {
    await holdAndRelease(new MemoryGateStore());
  });

  const skip = motoSkipReason();
  describe.skipIf(skip)('with the gate state in S3 (moto_server)', () => {
    const moto = motoForSuite();

    it('holds the execution at the stage entry and releases it on enable', async () => {
      const s3 = new S3Client(motoClientConfig(moto()));
      await s3.send(new CreateBucketCommand({ Bucket: 'artifacts' }));
      await holdAndRelease(new S3GateStore({ s3, bucket: 'artifacts' }));
    });

    it('refuses a write based on a stale read, and a second create (S3 conditional writes)', async () => {
      const s3 = new S3Client(motoClientConfig(moto()));
      await s3.send(new CreateBucketCommand({ Bucket: 'gates' }));
      const store = new S3GateStore({ s3, bucket: 'gates' });
      const fresh = await store.load('api');
      expect(fresh.etag).toBeUndefined();

      const created = await store.save(fresh.document, undefined);
      await expect(store.save(fresh.document, undefined)).rejects.toBeInstanceOf(GateConflictError);

      const read = await store.load('api');
      expect(read.etag).toBe(created);
      const disabled = { ...read.document, state: { ...read.document.state, disabled: { Build: { reason: 'r', disabledAt: 't' } } } };
      await store.save(disabled, read.etag);
      await expect(store.save(read.document, read.etag)).rejects.toBeInstanceOf(GateConflictError);
      expect((await store.load('api')).document.state.disabled).toStrictEqual({ Build: { reason: 'r', disabledAt: 't' } });
    });
  });
});
