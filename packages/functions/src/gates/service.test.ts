import { GetObjectCommand, type GetObjectCommandOutput, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { type GateEffect, heldExecutions } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { GateConflictError, GateContentionError } from './errors';
import { MemoryGateStore } from './memory-store';
import { type Delivery, SfnTaskResponder, type TaskResponder } from './responder';
import { S3GateStore } from './s3-store';
import { type EnterRequest, GateService } from './service';
import type { GateDocument } from './store';

const now = () => new Date('2026-11-26T10:00:00Z');
const noSleep = async () => undefined;
const quiet = () => undefined;

class RecordingResponder implements TaskResponder {
  readonly answers: string[] = [];
  failNext = 0;
  async deliver(effect: GateEffect): Promise<Delivery> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('throttled');
    }
    this.answers.push(`${effect.type} ${effect.executionId} ${effect.stage}`);
    return 'answered';
  }
}

const enter = (executionId: string, stage: string, mode: EnterRequest['executionMode'] = 'PARALLEL'): EnterRequest => ({
  taskToken: `token-${executionId}-${stage}`,
  pipeline: 'web',
  stage,
  executionId,
  executionMode: mode,
  firstStage: stage === 'Source',
});

describe('GateService', () => {
  it('holds an execution at a disabled transition and lets it in when enabled', async () => {
    // Prepare
    const responder = new RecordingResponder();
    const service = new GateService({ store: new MemoryGateStore(), responder, now, sleep: noSleep, warn: quiet });
    await service.disable('web', 'Deploy', 'release freeze', 'ana');

    // Act
    await service.enter(enter('a', 'Source'));
    const held = await service.enter(enter('a', 'Deploy'));

    // Assess
    expect(responder.answers).toStrictEqual(['proceed a Source']);
    expect(heldExecutions(held.state)).toStrictEqual([
      { stage: 'Deploy', executionId: 'a', since: '2026-11-26T10:00:00.000Z', reason: 'transition disabled: release freeze' },
    ]);
    expect(held.state.disabled.Deploy).toStrictEqual({ reason: 'release freeze', disabledAt: '2026-11-26T10:00:00.000Z', disabledBy: 'ana' });

    const released = await service.enable('web', 'Deploy');
    expect(responder.answers).toStrictEqual(['proceed a Source', 'proceed a Deploy']);
    expect(released.state.pending).toStrictEqual([]);
    expect(heldExecutions(released.state)).toStrictEqual([]);
  });

  it('reads again and retries when another writer got there first', async () => {
    // Prepare: a store whose first two writes lose the race
    const store = new MemoryGateStore();
    const save = store.save.bind(store);
    let losses = 2;
    store.save = async (document, etag) => {
      if (losses-- > 0) throw new GateConflictError(document.pipeline);
      return save(document, etag);
    };
    const responder = new RecordingResponder();
    const service = new GateService({ store, responder, now, sleep: noSleep, warn: quiet });

    // Act
    const result = await service.enter(enter('a', 'Source'));

    // Assess
    expect(responder.answers).toStrictEqual(['proceed a Source']);
    expect(result.state.pending).toStrictEqual([]);
    expect((await store.load('web')).document.state.position).toStrictEqual({ a: 'Source' });
  });

  it('gives up after maxAttempts conflicting writes, with a retryable error', async () => {
    const store = new MemoryGateStore();
    store.save = async (document) => {
      throw new GateConflictError(document.pipeline);
    };
    const service = new GateService({ store, responder: new RecordingResponder(), now, sleep: noSleep, maxAttempts: 3, warn: quiet });
    await expect(service.enter(enter('a', 'Source'))).rejects.toBeInstanceOf(GateContentionError);
  });

  it('keeps an answer it could not give, and gives it on the next event', async () => {
    const store = new MemoryGateStore();
    const responder = new RecordingResponder();
    const service = new GateService({ store, responder, now, sleep: noSleep, warn: quiet });
    responder.failNext = 1;

    const first = await service.enter(enter('a', 'Source'));
    expect(first.owed.map((e) => e.executionId)).toStrictEqual(['a']);
    expect((await store.load('web')).document.state.pending).toHaveLength(1);

    await service.enter(enter('b', 'Source'));
    expect(responder.answers).toStrictEqual(['proceed a Source', 'proceed b Source']);
    expect((await store.load('web')).document.state.pending).toStrictEqual([]);
  });

  it('QUEUED: an execution ending lets the next one in, from the status-change event', async () => {
    const responder = new RecordingResponder();
    const service = new GateService({ store: new MemoryGateStore(), responder, now, sleep: noSleep, warn: quiet });
    await service.enter(enter('a', 'Source', 'QUEUED'));
    await service.enter(enter('b', 'Source', 'QUEUED'));
    expect(responder.answers).toStrictEqual(['proceed a Source']);
    await service.finish('web', 'a');
    expect(responder.answers).toStrictEqual(['proceed a Source', 'proceed b Source']);
  });

  it('a finished execution entering a stage again (a redrive) is answered', async () => {
    const responder = new RecordingResponder();
    const service = new GateService({ store: new MemoryGateStore(), responder, now, sleep: noSleep, warn: quiet });
    await service.enter(enter('a', 'Source'));
    await service.finish('web', 'a');
    await service.enter(enter('a', 'Build'));
    expect(responder.answers).toStrictEqual(['proceed a Source', 'proceed a Build']);
  });
});

describe('GateService on S3 and Step Functions (SDK mocked)', () => {
  const s3 = mockClient(S3Client);
  const sfn = mockClient(SFNClient);
  afterEach(() => {
    s3.reset();
    sfn.reset();
  });

  const body = (text: string) => ({ transformToString: async () => text }) as unknown as GetObjectCommandOutput['Body'];
  const noSuchKey = () =>
    new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });
  const preconditionFailed = () =>
    new S3ServiceException({
      name: 'PreconditionFailed',
      $fault: 'client',
      $metadata: { httpStatusCode: 412 },
      message: 'At least one of the pre-conditions you specified did not hold',
    });

  it('creates with If-None-Match, retries on 412 with If-Match, and answers with SendTaskSuccess / SendTaskFailure', async () => {
    // Prepare: no gate state yet; b's write loses to a's, which S3 reports as 412
    const afterA: GateDocument = {
      version: 1,
      pipeline: 'web',
      mode: 'SUPERSEDED',
      state: {
        disabled: {},
        occupant: {},
        waiting: { Build: [{ executionId: 'a', token: 'token-a', since: '2026-11-26T09:00:00.000Z' }] },
        running: [],
        position: {},
        finished: [],
        pending: [],
      },
    };
    // S3 as a tiny stateful fake: the first read finds nothing, the first write loses to a's.
    let stored: { text: string; etag: string } | undefined;
    let version = 1;
    s3.on(GetObjectCommand).callsFake(async () => {
      if (!stored) throw noSuchKey();
      return { Body: body(stored.text), ETag: stored.etag };
    });
    s3.on(PutObjectCommand)
      .callsFakeOnce(async () => {
        stored = { text: JSON.stringify(afterA), etag: '"e1"' };
        throw preconditionFailed();
      })
      .callsFake(async (input: { Body: string; IfMatch?: string }) => {
        if (input.IfMatch !== stored?.etag) throw preconditionFailed();
        stored = { text: input.Body, etag: `"e${++version}"` };
        return { ETag: stored.etag };
      });
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    const service = new GateService({
      store: new S3GateStore({ s3: new S3Client({}), bucket: 'artifacts' }),
      responder: new SfnTaskResponder(new SFNClient({})),
      now,
      sleep: noSleep,
      warn: quiet,
    });

    // Act: b reaches Build while a waits there (SUPERSEDED: the newer one wins)
    await service.enter({ ...enter('b', 'Build', 'SUPERSEDED'), taskToken: 'token-b' });

    // Assess
    expect(s3).toHaveReceivedNthCommandWith(PutObjectCommand, 1, { Bucket: 'artifacts', Key: '_stepline/gates/web.json', IfNoneMatch: '*' });
    expect(s3).toHaveReceivedNthCommandWith(PutObjectCommand, 2, { Bucket: 'artifacts', Key: '_stepline/gates/web.json', IfMatch: '"e1"' });
    expect(s3).toHaveReceivedNthCommandWith(PutObjectCommand, 3, { IfMatch: '"e2"' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'token-a', error: 'Stepline.Superseded' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'token-b' });
    // The delivered answers were recorded: the last write owes nothing.
    expect(JSON.parse(stored?.text ?? '{}').state).toMatchObject({ pending: [], occupant: { Build: 'b' }, finished: ['a'] });
  });

  it('counts a token nobody waits on as delivered, and keeps one that was throttled', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    const responder = new SfnTaskResponder(new SFNClient({}));
    await expect(responder.deliver({ type: 'proceed', executionId: 'a', stage: 'Build', token: 't' })).resolves.toBe('gone');

    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(responder.deliver({ type: 'proceed', executionId: 'a', stage: 'Build', token: 't' })).rejects.toThrow('Rate exceeded');
  });
});
