import {
  CopyObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeStateMachineForExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  ListTagsForResourceCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { compilePipeline, DefinitionError, emptyGateState, type GateState, machineHash, machineManifestKey, parsePipeline } from '@stepline/core';
import { storeArtifact } from '@stepline/functions';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../errors';
import { AwsBackend } from './backend';
import {
  BUCKET,
  executionArn,
  HistoryWriter,
  machineArn,
  manifestOf,
  tagsOf,
  waitingForApproval,
  waitingOnDeployWindow,
  webCompiled,
  webPipeline,
} from './test-fixtures';

const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);

const body = (text: string) => ({ transformToString: async () => text }) as unknown as GetObjectCommandOutput['Body'];
const noSuchKey = () =>
  new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });

/** S3 as a small stateful fake: the manifest, and the gate state with conditional writes. */
function fakeS3(gate?: GateState) {
  const objects = new Map<string, { text: string; etag: string }>();
  objects.set(`_stepline/pipelines/web.json`, { text: JSON.stringify(manifestOf(webPipeline, webCompiled)), etag: '"m"' });
  if (gate) objects.set('_stepline/gates/web.json', { text: JSON.stringify({ version: 1, pipeline: 'web', mode: 'QUEUED', state: gate }), etag: '"g1"' });
  let version = 1;
  s3.on(GetObjectCommand).callsFake(async (input: { Key: string }) => {
    const object = objects.get(input.Key);
    if (!object) throw noSuchKey();
    return { Body: body(object.text), ETag: object.etag };
  });
  s3.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: string | Uint8Array; IfMatch?: string; IfNoneMatch?: string }) => {
    const current = objects.get(input.Key);
    if ((input.IfNoneMatch === '*' && current) || (input.IfMatch !== undefined && input.IfMatch !== current?.etag)) {
      throw new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 }, message: 'precondition' });
    }
    const etag = `"g${++version}"`;
    objects.set(input.Key, { text: typeof input.Body === 'string' ? input.Body : new TextDecoder().decode(input.Body), etag });
    return { ETag: etag };
  });
  s3.on(CopyObjectCommand).callsFake(async (input: { Key: string; CopySource: string; IfNoneMatch?: string }) => {
    const from = objects.get(decodeURIComponent(input.CopySource.slice(`${BUCKET}/`.length)));
    if (!from) throw noSuchKey();
    if (input.IfNoneMatch === '*' && objects.has(input.Key))
      throw new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 }, message: 'precondition' });
    objects.set(input.Key, { ...from });
    return {};
  });
  s3.on(ListObjectsV2Command).callsFake(async (input: { Prefix: string; Delimiter?: string }) => {
    const keys = [...objects.keys()].filter((k) => k.startsWith(input.Prefix)).sort();
    if (input.Delimiter === undefined) return { Contents: keys.map((Key) => ({ Key })) };
    const prefixes = new Set(keys.map((k) => `${input.Prefix}${k.slice(input.Prefix.length).split('/')[0]}/`));
    return { CommonPrefixes: [...prefixes].map((Prefix) => ({ Prefix })) };
  });
  return objects;
}

/** A source artifact of an execution as the source function stores it (files, then manifest), into the fake S3. */
function storeSource(executionId: string, files: Record<string, string>) {
  return storeArtifact({ s3: new S3Client({}), bucket: BUCKET, pipeline: 'web', executionId, artifact: 'src' }, async () =>
    Object.entries(files).map(([path, text]) => ({ path, data: new TextEncoder().encode(text) })),
  );
}

function installation() {
  sfn.on(ListStateMachinesCommand).resolves({
    stateMachines: [
      { stateMachineArn: machineArn('web'), name: 'stepline-team-web', type: 'STANDARD', creationDate: new Date('2026-11-20T00:00:00Z') },
      { stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:unrelated', name: 'unrelated', type: 'STANDARD', creationDate: new Date() },
      { stateMachineArn: machineArn('web', 'other'), name: 'stepline-other-web', type: 'STANDARD', creationDate: new Date() },
    ],
  });
  sfn.on(ListTagsForResourceCommand, { resourceArn: machineArn('web') }).resolves({ tags: tagsOf('web') });
  sfn.on(ListTagsForResourceCommand, { resourceArn: machineArn('web', 'other') }).resolves({ tags: tagsOf('web', 'other') });
  sfn.on(ListTagsForResourceCommand, { resourceArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:unrelated' }).resolves({ tags: [] });
  // Every execution ran the machine deployed today, unless a test says otherwise.
  sfn.on(DescribeStateMachineForExecutionCommand).resolves({ definition: JSON.stringify(webCompiled.definition) });
}

const running = (name: string, extra: Record<string, unknown> = {}) => ({
  executionArn: executionArn('web', name),
  stateMachineArn: machineArn('web'),
  name,
  status: 'RUNNING' as const,
  startDate: new Date('2026-11-26T10:00:00Z'),
  input: JSON.stringify({ pipeline: 'web', trigger: { type: 'Webhook' }, source: { commitId: 'c0ffee', branchName: 'main' }, variables: {} }),
  ...extra,
});

const backend = () =>
  new AwsBackend({
    sfn: new SFNClient({}),
    s3: new S3Client({}),
    stage: 'team',
    actor: 'ana',
    now: () => new Date('2026-11-26T12:00:00Z'),
    random: () => 0.5,
  });

beforeEach(() => installation());
afterEach(() => {
  sfn.reset();
  s3.reset();
});

describe('AwsBackend: pipelines', () => {
  it('list-pipelines: finds the stage’s state machines by their tags and reads their manifests', async () => {
    fakeS3();
    expect(await backend().listPipelines()).toStrictEqual([
      { name: 'web', location: machineArn('web'), executionMode: 'QUEUED', updated: '2026-11-20T00:00:00.000Z' },
    ]);
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: '_stepline/pipelines/web.json' });
  });

  it('without a stage, a pipeline installed twice must be disambiguated', async () => {
    fakeS3();
    const all = new AwsBackend({ sfn: new SFNClient({}), s3: new S3Client({}) });
    expect((await all.listPipelines()).map((p) => p.location)).toStrictEqual([machineArn('web'), machineArn('web', 'other')]);
    await expect(all.getPipelineState('web')).rejects.toThrow('pipeline web is in several installations (team, other): pass --install <name>');
  });

  it('names the pipelines it has when asked for another', async () => {
    fakeS3();
    await expect(backend().getPipelineState('api')).rejects.toThrow(new UsageError('no pipeline api in the AWS installation team (it has web)'));
  });
});

describe('AwsBackend: state and executions', () => {
  it('get-pipeline-state: the latest execution’s history through the state map, with a held execution and its reason', async () => {
    // Prepare: the Deploy transition is disabled... and the execution waits at Approve's action
    fakeS3({ ...emptyGateState(), disabled: { Deploy: { reason: 'release freeze', disabledAt: '2026-11-26T09:00:00.000Z', disabledBy: 'ana' } } });
    sfn.on(ListExecutionsCommand).resolves({ executions: [running('exec-2')] });
    sfn.on(DescribeExecutionCommand).resolves(running('exec-2'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingForApproval().events });

    // Act
    const state = await backend().getPipelineState('web');

    // Assess
    expect(state).toMatchObject({ pipeline: 'web', executionId: 'exec-2', status: 'InProgress' });
    expect(state.stages.map((s) => [s.name, s.status, s.inboundTransition.enabled])).toStrictEqual([
      ['Source', 'Succeeded', true],
      ['Build', 'Succeeded', true],
      ['Approve', 'InProgress', true],
      ['Deploy', undefined, false],
    ]);
    expect(state.stages[3]?.inboundTransition).toStrictEqual({ enabled: false, reason: 'release freeze', disabledAt: '2026-11-26T09:00:00.000Z' });
    expect(sfn).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { executionArn: executionArn('web', 'exec-2'), includeExecutionData: true });
  });

  it('get-pipeline-state: shows an execution held at a disabled stage entry as Waiting, with the reason', async () => {
    const held = waitingForApproval();
    held.events.splice(-6); // not yet at the approval: the Approve gate holds it
    held.entered('Approve · enter stage').scheduled('lambda', { FunctionName: 'gate', Payload: { taskToken: 't' } });
    fakeS3({
      ...emptyGateState(),
      disabled: { Approve: { reason: 'waiting for QA', disabledAt: '2026-11-26T09:00:00.000Z' } },
      waiting: { Approve: [{ executionId: 'exec-2', token: 't', since: '2026-11-26T10:00:20.000Z' }] },
    });
    sfn.on(DescribeExecutionCommand).resolves(running('exec-2'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: held.events });

    const state = await backend().getPipelineState('web', 'exec-2');

    expect(state.stages[2]).toMatchObject({
      name: 'Approve',
      status: 'Waiting',
      inboundTransition: { enabled: false, reason: 'waiting for QA' },
      held: { since: '2026-11-26T10:00:20.000Z', reason: 'transition disabled: waiting for QA' },
    });
  });

  it('get-pipeline-state: a pipeline that never ran shows its stages and transitions only', async () => {
    fakeS3();
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    const state = await backend().getPipelineState('web');
    expect(state).toStrictEqual({
      pipeline: 'web',
      stages: webPipeline.stages.map((s) => ({
        name: s.name,
        inboundTransition: { enabled: true },
        actions: s.actions.map((a) => ({ name: a.name, kind: a.kind })),
      })),
    });
  });

  it('list-executions: newest first, with trigger and commit from the input', async () => {
    fakeS3();
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        { ...running('exec-2'), startDate: new Date('2026-11-26T10:00:00Z') },
        { ...running('exec-1'), status: 'SUCCEEDED', startDate: new Date('2026-11-25T10:00:00Z') },
      ],
    });
    sfn.on(DescribeExecutionCommand, { executionArn: executionArn('web', 'exec-2') }).resolves(running('exec-2'));
    sfn.on(DescribeExecutionCommand, { executionArn: executionArn('web', 'exec-1') }).resolves(
      running('exec-1', {
        status: 'FAILED',
        error: 'Stepline.Superseded',
        startDate: new Date('2026-11-25T10:00:00Z'),
        stopDate: new Date('2026-11-25T10:05:00Z'),
      }),
    );
    expect(await backend().listExecutions('web')).toStrictEqual([
      {
        executionId: 'exec-2',
        pipeline: 'web',
        status: 'InProgress',
        startedAt: '2026-11-26T10:00:00.000Z',
        trigger: 'Webhook',
        commitId: 'c0ffee',
        branch: 'main',
      },
      {
        executionId: 'exec-1',
        pipeline: 'web',
        status: 'Superseded',
        startedAt: '2026-11-25T10:00:00.000Z',
        endedAt: '2026-11-25T10:05:00.000Z',
        trigger: 'Webhook',
        commitId: 'c0ffee',
        branch: 'main',
      },
    ]);
  });

  it('get-execution: stages, build phases, approvals, artifacts and variables', async () => {
    fakeS3();
    sfn.on(DescribeExecutionCommand).resolves(running('exec-2'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingForApproval().events });
    s3.on(ListObjectsV2Command).resolves({ CommonPrefixes: [{ Prefix: 'web/exec-2/out/' }, { Prefix: 'web/exec-2/src/' }] });

    const detail = await backend().getExecution('exec-2');

    expect(detail).toMatchObject({ executionId: 'exec-2', pipeline: 'web', status: 'InProgress', trigger: 'Webhook', variables: { ENV: 'staging' } });
    expect(detail.builds).toStrictEqual({
      'Build.Compile': {
        buildId: 'stepline-team-web-Build-Compile:1',
        logLocation: 'https://console.aws.amazon.com/cloudwatch/logs/1',
        phases: [
          { name: 'SUBMITTED', status: 'SUCCEEDED', durationMs: 0 },
          { name: 'BUILD', status: 'SUCCEEDED', durationMs: 42_000 },
          { name: 'COMPLETED', status: 'IN_PROGRESS' },
        ],
      },
    });
    expect(detail.approvals).toStrictEqual([{ stage: 'Approve', action: 'Release', status: 'Pending' }]);
    expect(detail.artifacts).toStrictEqual([
      { name: 'out', location: `s3://${BUCKET}/web/exec-2/out/` },
      { name: 'src', location: `s3://${BUCKET}/web/exec-2/src/` },
    ]);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: BUCKET, Prefix: 'web/exec-2/', Delimiter: '/' });
  });

  it('get-execution: says which execution is missing, or where a name is ambiguous', async () => {
    fakeS3();
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));
    await expect(backend().getExecution('nope')).rejects.toThrow(new UsageError('no execution nope in any pipeline of this installation'));
    await expect(backend().getExecution('web/nope')).rejects.toThrow(new UsageError('no execution nope in pipeline web'));
  });
});

describe('AwsBackend: an execution is read through the machine it ran', () => {
  // Redeployed after exec-2 ran webCompiled: the Build stage is now called Make.
  const renamed = parsePipeline({ ...webPipeline, stages: webPipeline.stages.map((s) => (s.name === 'Build' ? { ...s, name: 'Make' } : s)) });
  const renamedCompiled = compilePipeline(renamed, { target: 'aws', region: 'eu-west-1', accountId: '123456789012', artifactBucket: BUCKET });

  function redeployed() {
    const objects = fakeS3();
    const today = JSON.stringify(manifestOf(renamed, renamedCompiled));
    const before = objects.get('_stepline/pipelines/web.json');
    objects.set('_stepline/pipelines/web.json', { text: today, etag: '"m2"' });
    if (before) objects.set(machineManifestKey('_stepline/pipelines/web.json', machineHash(webCompiled.definition)), before);
    sfn.on(DescribeStateMachineForExecutionCommand).resolves({ definition: JSON.stringify(webCompiled.definition, null, 2) });
    sfn.on(DescribeExecutionCommand).resolves(running('exec-2'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingForApproval().events });
    s3.on(ListObjectsV2Command).resolves({});
    return objects;
  }

  it('get-execution and get-pipeline-state show the stages it ran after a stage was renamed', async () => {
    // Prepare
    redeployed();

    // Act
    const detail = await backend().getExecution('exec-2');
    const state = await backend().getPipelineState('web', 'exec-2');

    // Assess: Build as it ran, with its build; nothing of today's Make.
    for (const shown of [detail.state, state]) {
      expect(shown.stages.map((s) => [s.name, s.status])).toStrictEqual([
        ['Source', 'Succeeded'],
        ['Build', 'Succeeded'],
        ['Approve', 'InProgress'],
        ['Deploy', undefined],
      ]);
    }
    expect(Object.keys(detail.builds)).toStrictEqual(['Build.Compile']);
    expect(sfn).toHaveReceivedCommandWith(DescribeStateMachineForExecutionCommand, { executionArn: executionArn('web', 'exec-2') });
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: `_stepline/pipelines/web/${machineHash(webCompiled.definition)}.json` });
  });

  it('reads a machine deployed before manifests were kept by hash through today’s manifest', async () => {
    // Prepare: no manifest under the old machine's hash.
    const objects = redeployed();
    objects.delete(machineManifestKey('_stepline/pipelines/web.json', machineHash(webCompiled.definition)));

    // Act
    const state = await backend().getPipelineState('web', 'exec-2');

    // Assess
    expect(state.stages.map((s) => s.name)).toStrictEqual(['Source', 'Make', 'Approve', 'Deploy']);
  });
});

describe('AwsBackend: changes', () => {
  it('start-pipeline-execution: names the execution from the request token, with the variables checked', async () => {
    fakeS3();
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn('web', 'req-1'), startDate: new Date() });

    expect(await backend().startExecution('web', { variables: { ENV: 'prod' }, clientRequestToken: 'req-1' })).toStrictEqual({ executionId: 'req-1' });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: machineArn('web'),
      name: 'req-1',
      input: JSON.stringify({ pipeline: 'web', trigger: { type: 'StartPipelineExecution', actor: 'ana' }, source: {}, variables: { ENV: 'prod' } }),
    });

    const { executionId } = await backend().startExecution('web', { variables: {} });
    expect(executionId).toBe('20261126T120000Z-7fffffff');
    await expect(backend().startExecution('web', { variables: { NOPE: '1' } })).rejects.toBeInstanceOf(DefinitionError);
  });

  it('start-pipeline-execution: carries checked source revision overrides in the input, and refuses a bad one before starting', async () => {
    fakeS3();
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn('web', 'req-2'), startDate: new Date() });
    const sha = 'ab'.repeat(20);

    await backend().startExecution('web', {
      variables: {},
      sourceRevisions: [{ actionName: 'Checkout', revisionType: 'COMMIT_ID', revisionValue: sha }],
      clientRequestToken: 'req-2',
    });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      name: 'req-2',
      input: JSON.stringify({
        pipeline: 'web',
        trigger: { type: 'StartPipelineExecution', actor: 'ana' },
        source: {},
        variables: {},
        sourceRevisions: [{ actionName: 'Checkout', revisionType: 'COMMIT_ID', revisionValue: sha }],
      }),
    });

    sfn.resetHistory();
    await expect(
      backend().startExecution('web', { variables: {}, sourceRevisions: [{ actionName: 'Compile', revisionType: 'COMMIT_ID', revisionValue: sha }] }),
    ).rejects.toThrow('sourceRevisions[0]: Compile=COMMIT_ID: Compile is a build action; only source actions take a revision');
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('stop-pipeline-execution: stops with Stepline.Stopped and the reason; refuses one that is not running', async () => {
    fakeS3();
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(running('exec-2'))
      .resolves(running('exec-2', { status: 'SUCCEEDED' }));
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });

    await backend().stopExecution('exec-2', { abandon: true, reason: 'wrong branch' });
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: executionArn('web', 'exec-2'),
      error: 'Stepline.Stopped',
      cause: 'Stopped and abandoned by ana: wrong branch',
    });
    await expect(backend().stopExecution('exec-2', { abandon: false })).rejects.toThrow('execution exec-2 is not in progress (SUCCEEDED)');
  });

  it('retry-stage-execution: starts the machine again at the failed stage with the state it had there, and its earlier artifacts', async () => {
    const objects = fakeS3();
    const index = '<h1>v2</h1>';
    await storeSource('exec-2', { 'index.html': index });
    const input = { pipeline: 'web', trigger: { type: 'Webhook' }, source: {}, variables: {} };
    const atBuild = { input, variables: { ENV: 'staging' }, actions: { Source_Checkout: { variables: { CommitId: 'c0ffee' } } } };
    const failed = new HistoryWriter()
      .started(input)
      .gate('Source')
      .entered('Build · enter stage', atBuild)
      .exited('Build · enter stage', atBuild)
      .entered('Build · Compile', atBuild)
      .failed('codebuild', 'States.TaskFailed', 'build failed')
      .pass('Build · Compile · failed', { ...atBuild, failure: { Error: 'States.TaskFailed', Cause: 'build failed' } });
    sfn.on(DescribeExecutionCommand).resolves(running('exec-2', { status: 'FAILED' }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: failed.events });
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }))
      .resolves({ executionArn: executionArn('web', 'exec-2-r3') });

    expect(await backend().retryStageExecution('exec-2')).toStrictEqual({ executionId: 'exec-2-r3' });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: 'exec-2-r3', input: JSON.stringify({ resume: { stage: 'Build', state: atBuild } }) });
    // The machine reads artifacts under the execution's own name: the retry finds exec-2's there.
    expect(objects.get('web/exec-2-r3/src/index.html')?.text).toBe(index);
    expect(objects.has('web/exec-2-r3/src/manifest.json')).toBe(true);

    sfn.on(DescribeExecutionCommand).resolves(running('exec-2', { status: 'SUCCEEDED' }));
    await expect(backend().retryStageExecution('exec-2')).rejects.toThrow(
      'execution exec-2 is succeeded: only a failed, stopped or timed-out execution can be retried',
    );
  });

  describe('rollback-stage', () => {
    const input = (commit: string) => ({ pipeline: 'web', trigger: { type: 'Webhook' }, source: { commitId: commit }, variables: {} });
    const atDeploy = (commit: string) => ({
      input: input(commit),
      variables: { ENV: 'prod' },
      actions: { Source_Checkout: { variables: { CommitId: commit } } },
    });
    /** An execution that went through Deploy: it succeeded there, or (`fails`) failed there. */
    const throughDeploy = (commit: string, fails = false) => {
      const history = new HistoryWriter()
        .started(input(commit))
        .gate('Source')
        .entered('Source · Checkout')
        .exited('Source · Checkout')
        .gate('Build')
        .entered('Build · Compile')
        .exited('Build · Compile')
        .gate('Approve')
        .entered('Approve · Release')
        .exited('Approve · Release')
        .gate('Deploy', atDeploy(commit))
        .entered('Deploy · Ship', atDeploy(commit));
      return fails ? history.failed('lambda', 'Stepline.ActionFailed', 'ship failed') : history.exited('Deploy · Ship');
    };
    const listed = (name: string, status: 'FAILED' | 'SUCCEEDED') => ({
      executionArn: executionArn('web', name),
      stateMachineArn: machineArn('web'),
      name,
      status,
      startDate: new Date('2026-11-26T10:00:00Z'),
    });
    /** Executions newest first: bad-2 failed in Deploy, good-1 and good-0 went through it. */
    function executions() {
      sfn.on(ListExecutionsCommand).resolves({ executions: [listed('bad-2', 'FAILED'), listed('good-1', 'SUCCEEDED'), listed('good-0', 'SUCCEEDED')] });
      sfn.on(GetExecutionHistoryCommand, { executionArn: executionArn('web', 'bad-2') }).resolves({ events: throughDeploy('bad', true).events });
      sfn.on(GetExecutionHistoryCommand, { executionArn: executionArn('web', 'good-1') }).resolves({ events: throughDeploy('good1').events });
      sfn.on(GetExecutionHistoryCommand, { executionArn: executionArn('web', 'good-0') }).resolves({ events: throughDeploy('good0').events });
      sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'none', $metadata: {} }));
      sfn.on(DescribeExecutionCommand, { executionArn: executionArn('web', 'good-0') }).resolves(running('good-0', { status: 'SUCCEEDED' }));
      sfn.on(StartExecutionCommand).callsFake(async (i: { name: string }) => ({ executionArn: executionArn('web', i.name) }));
    }

    it('starts today’s machine at the stage with the newest good execution’s state, its artifacts copied under the new execution', async () => {
      const objects = fakeS3();
      // The source artifact has stepline's manifest; the build's output (CodeBuild's) has none and is listed.
      await storeSource('good-1', { 'index.html': 'good' });
      objects.set('web/good-1/out/app.js', { text: 'app', etag: '"3"' });
      objects.set('web/good-1/out/assets/a b.css', { text: 'css', etag: '"4"' });
      executions();

      const started = await backend().rollbackStage('web', 'Deploy', {});

      expect(started).toStrictEqual({ executionId: 'rollback-Deploy-20261126T120000Z-7fffffff', targetExecution: 'good-1' });
      const state = atDeploy('good1');
      const rollbackState = {
        ...state,
        input: { ...state.input, rollback: { stage: 'Deploy', targetExecution: 'good-1' }, trigger: { type: 'ManualRollback', actor: 'ana' } },
      };
      expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
      expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
        stateMachineArn: machineArn('web'),
        name: started.executionId,
        input: JSON.stringify({ resume: { stage: 'Deploy', state: rollbackState } }),
      });
      const copied = [...objects.keys()].filter((k) => k.startsWith(`web/${started.executionId}/`)).sort();
      expect(copied).toStrictEqual(
        ['app.js', 'assets/a b.css']
          .map((f) => `web/${started.executionId}/out/${f}`)
          .concat(['index.html', 'manifest.json'].map((f) => `web/${started.executionId}/src/${f}`)),
      );
      expect(objects.get(`web/${started.executionId}/src/index.html`)?.text).toBe('good');
    });

    it('rolls back to the execution named, and only if it succeeded through the stage', async () => {
      fakeS3();
      executions();
      expect(await backend().rollbackStage('web', 'Deploy', { targetExecution: 'good-0' })).toMatchObject({ targetExecution: 'good-0' });
      sfn.on(DescribeExecutionCommand, { executionArn: executionArn('web', 'bad-2') }).resolves(running('bad-2', { status: 'FAILED' }));
      await expect(backend().rollbackStage('web', 'Deploy', { targetExecution: 'bad-2' })).rejects.toThrow(
        'rollback-stage: execution bad-2 did not succeed through stage Deploy: it cannot be rolled back to',
      );
      await expect(backend().rollbackStage('web', 'Deploy', { targetExecution: 'gone' })).rejects.toThrow('rollback-stage: no execution gone of pipeline web');
    });

    it('refuses as on one machine: the source stage, a middle stage without a ROLLBACK condition, no good execution, PARALLEL mode', async () => {
      const objects = fakeS3();
      executions();
      await expect(backend().rollbackStage('web', 'Source', {})).rejects.toThrow(
        'rollback-stage: stage Source is the source stage: there is nothing to roll back to',
      );
      await expect(backend().rollbackStage('web', 'Approve', {})).rejects.toThrow(
        'rollback-stage: stage Approve has no ROLLBACK condition, so a rollback of it would run the later stages too',
      );
      sfn.on(ListExecutionsCommand).resolves({ executions: [listed('bad-2', 'FAILED')] });
      await expect(backend().rollbackStage('web', 'Deploy', {})).rejects.toThrow(
        'rollback-stage: no earlier execution of web succeeded through stage Deploy: there is nothing to roll back to',
      );
      const parallel = parsePipeline({ ...webPipeline, executionMode: 'PARALLEL' });
      const compiled = compilePipeline(parallel, { target: 'aws', region: 'eu-west-1', accountId: '123456789012', artifactBucket: BUCKET });
      objects.set('_stepline/pipelines/web.json', { text: JSON.stringify(manifestOf(parallel, compiled)), etag: '"p"' });
      await expect(backend().rollbackStage('web', 'Deploy', {})).rejects.toThrow('rollback-stage: a stage cannot be rolled back in PARALLEL execution mode');
      expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
    });
  });

  it('disable / enable-stage-transition: writes the gate state conditionally and releases what it held', async () => {
    const objects = fakeS3({ ...emptyGateState(), waiting: {} });
    sfn.on(SendTaskSuccessCommand).resolves({});

    await backend().disableStageTransition('web', 'Deploy', 'release freeze');
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: BUCKET, Key: '_stepline/gates/web.json', IfMatch: '"g1"' });
    const disabled = JSON.parse(objects.get('_stepline/gates/web.json')?.text ?? '{}');
    expect(disabled.state.disabled).toStrictEqual({ Deploy: { reason: 'release freeze', disabledAt: '2026-11-26T12:00:00.000Z', disabledBy: 'ana' } });

    // An execution arrives at Deploy's entry and is held there (what the gate function records).
    disabled.state.waiting = { Deploy: [{ executionId: 'exec-2', token: 'held-token', since: '2026-11-26T12:01:00.000Z' }] };
    objects.set('_stepline/gates/web.json', { text: JSON.stringify(disabled), etag: '"g9"' });

    await backend().enableStageTransition('web', 'Deploy');
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'held-token' });
    expect(JSON.parse(objects.get('_stepline/gates/web.json')?.text ?? '{}').state).toMatchObject({ disabled: {}, waiting: {}, pending: [] });

    await expect(backend().disableStageTransition('web', 'Nope', 'x')).rejects.toThrow(
      'pipeline web has no stage Nope (it has Source, Build, Approve, Deploy)',
    );
  });

  it('approve / reject: answers the waiting approval’s task token', async () => {
    fakeS3();
    sfn.on(DescribeExecutionCommand).resolves(running('exec-2'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingForApproval().events });
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});

    await backend().decideApproval('exec-2', { decision: 'Approved', approver: 'ana', comment: 'ship it' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: 'approval-token',
      output: JSON.stringify({ approvedBy: 'ana', comment: 'ship it', decidedAt: '2026-11-26T12:00:00.000Z' }),
    });

    await backend().decideApproval('exec-2', { decision: 'Rejected', approver: 'bo', stage: 'Approve' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: 'approval-token', error: 'Stepline.ApprovalRejected', cause: 'Rejected by bo' });

    await expect(backend().decideApproval('exec-2', { decision: 'Approved', approver: 'ana', stage: 'Build' })).rejects.toThrow(
      'execution exec-2 has no approval waiting in stage Build (Approve.Release: Pending)',
    );
  });

  it('says in one line when AWS refuses the credentials or the permission', async () => {
    sfn
      .on(ListStateMachinesCommand)
      .rejects(
        Object.assign(new Error('User: arn:aws:iam::1:user/x is not authorized\n to perform: states:ListStateMachines'), { name: 'AccessDeniedException' }),
      );
    const error = await backend()
      .listPipelines()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      'list-pipelines: AWS denied access: User: arn:aws:iam::1:user/x is not authorized to perform: states:ListStateMachines',
    );
  });
});

describe('AwsBackend: stage conditions', () => {
  it('list-rule-executions: each rule evaluation from the check Tasks’ answers in the history, filtered by execution', async () => {
    fakeS3();
    sfn.on(ListExecutionsCommand).resolves({ executions: [running('exec-3'), running('exec-2')] });
    sfn.on(DescribeExecutionCommand).callsFake(async (input: { executionArn: string }) => running(input.executionArn.split(':').pop() ?? ''));
    sfn.on(GetExecutionHistoryCommand, { executionArn: executionArn('web', 'exec-3') }).resolves({ events: waitingOnDeployWindow().events });
    sfn.on(GetExecutionHistoryCommand, { executionArn: executionArn('web', 'exec-2') }).resolves({ events: waitingForApproval().events });

    const all = await backend().listRuleExecutions('web', {});
    expect(all).toStrictEqual([
      {
        pipelineExecutionId: 'exec-3',
        ruleExecutionId: 'exec-3/Deploy/beforeEntry/Window/1',
        stageName: 'Deploy',
        condition: 'beforeEntry',
        ruleName: 'Window',
        startTime: expect.any(String),
        lastUpdateTime: expect.any(String),
        status: 'InProgress',
        input: {
          ruleTypeId: { category: 'Rule', owner: 'AWS', provider: 'DeploymentWindow', version: '1' },
          configuration: { cron: '* 9-17 ? * MON-FRI *', timeZone: 'UTC' },
        },
        output: { executionResult: { externalExecutionSummary: 'outside the window * 9-17 ? * MON-FRI * (UTC); it opens at 2026-11-30T09:00:00.000Z' } },
      },
    ]);
    expect(await backend().listRuleExecutions('web', { pipelineExecutionId: 'exec-2' })).toStrictEqual([]);
  });

  it('override-stage-condition: records the override where the conditions function reads it, once, and only while the stage waits on it', async () => {
    const objects = fakeS3();
    sfn.on(DescribeExecutionCommand).resolves(running('exec-3'));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingOnDeployWindow().events });
    const request = { stage: 'Deploy', executionId: 'exec-3', conditionType: 'BEFORE_ENTRY', by: 'ana' };

    // The manifest keeps which states are a condition's wait: the stage shows as waiting on it.
    expect((await backend().getPipelineState('web', 'exec-3')).stages[3]).toMatchObject({ status: 'Waiting', held: { condition: 'beforeEntry' } });
    expect(await backend().overrideStageCondition('web', request)).toStrictEqual({ by: 'ana', at: '2026-11-26T12:00:00.000Z' });
    expect(JSON.parse(objects.get('_stepline/condition-overrides/web/exec-3/Deploy/beforeEntry.json')?.text ?? '')).toStrictEqual({
      by: 'ana',
      at: '2026-11-26T12:00:00.000Z',
    });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: BUCKET, IfNoneMatch: '*' });
    await expect(backend().overrideStageCondition('web', { ...request, by: 'bo' })).rejects.toThrow(
      'the condition was already overridden by ana at 2026-11-26T12:00:00.000Z',
    );
    await expect(backend().overrideStageCondition('web', { ...request, stage: 'Approve' })).rejects.toThrow(
      'cannot override the entry conditions of stage Approve: the stage has no beforeEntry condition with rules',
    );
    await expect(backend().overrideStageCondition('web', { ...request, conditionType: 'ON_FAILURE' })).rejects.toThrow(
      'condition type "ON_FAILURE" cannot be overridden: expected BEFORE_ENTRY or ON_SUCCESS',
    );
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingForApproval().events });
    await expect(backend().overrideStageCondition('web', request)).rejects.toThrow(
      'cannot override the entry conditions of stage Deploy: execution exec-3 is not waiting on it (stage Deploy is not reached)',
    );
    sfn.on(DescribeExecutionCommand).resolves(running('exec-3', { status: 'FAILED', stopDate: new Date() }));
    await expect(backend().overrideStageCondition('web', request)).rejects.toThrow(
      'cannot override the entry conditions of stage Deploy: execution exec-3 is not in progress (Failed)',
    );
  });
});
