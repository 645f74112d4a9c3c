/**
 * The compiled state machine, executed: what AWS would run, run here by aws-local-stepfunctions with
 * every Task bound to a stub. Orchestration (order, parallelism, failures, references) is tested here.
 */
import { compilePipeline, type ExecutionInput, importCodePipeline, parsePipeline, parsePipelineText, validateStateMachine } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { seedFile } from './helpers/corpus';
import { pipelineYaml } from './helpers/project';
import { failWith, runStubbed, type StubCall, stubHandlers } from './helpers/stub-handlers';

const input: ExecutionInput = { pipeline: 'p', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} };

async function run(compiled: ReturnType<typeof compilePipeline>, overrides: Parameters<typeof stubHandlers>[1] = {}, startInput: ExecutionInput = input) {
  const { outcome, calls, events } = await runStubbed(compiled, overrides, startInput);
  /** Stages in the order their actions were first entered. */
  const stages: string[] = [];
  for (const e of events) {
    if (e.type !== 'StateEntered') continue;
    const info = compiled.stateMap[e.state.name];
    if (info?.role === 'action' && info.stage && !stages.includes(info.stage)) stages.push(info.stage);
  }
  return { outcome, calls, stages };
}

describe("the seed's CodePipeline, imported, compiled and executed", () => {
  const [imported] = importCodePipeline(seedFile('pipeline.json'), 'pipeline.json');
  const compiled = compilePipeline(parsePipeline(imported?.definition), { target: 'aws' });

  it('passes asl-validator', () => {
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
  });

  it('visits Source, Build, Approve, Deploy in that order and succeeds', async () => {
    const { outcome, stages } = await run(compiled);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(stages).toStrictEqual(['Source', 'Build', 'Approve', 'Deploy']);
  });

  it('fails, naming the Build stage, when the build handler throws', async () => {
    const { outcome, stages } = await run(compiled, {
      'Build · CodeBuild': failWith('Stepline.BuildFailed', 'npm test exited with 1'),
    });
    expect(outcome).toStrictEqual({ status: 'FAILED', error: 'Stepline.BuildFailed', cause: 'Stage Build, action CodeBuild failed: npm test exited with 1' });
    expect(stages).toStrictEqual(['Source', 'Build']);
  });
});

describe('orchestration of compiled pipelines', () => {
  const compiled = compilePipeline(
    parsePipelineText(`
name: web
variables: [{ name: ENV, default: staging }]
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/web, outputArtifacts: [Src], namespace: SourceVariables }]
  - name: Build
    actions:
      - { name: Compile, kind: build, inputArtifacts: [Src], outputArtifacts: [Bin], namespace: BuildVars, environmentVariables: { TAG: "web-#{SourceVariables.CommitId}" } }
      - { name: Unit, kind: test, inputArtifacts: [Src] }
  - name: Release
    actions:
      - { name: Approve, kind: approval, namespace: Approve, customData: "Ship #{BuildVars.IMAGE} to #{variables.ENV}?" }
      - { name: Announce, kind: invoke, command: ./announce, runOrder: 2, userParameters: "#{Approve.ApprovedBy}" }
`),
  );
  const withImage = () => ({
    Build: { Id: 'b:1', BuildNumber: 1, BuildStatus: 'SUCCEEDED', ExportedEnvironmentVariables: [{ Name: 'IMAGE', Value: 'web:42' }] },
  });
  const inputOf = (calls: StubCall[], state: string): unknown => calls.find((c) => c.state === state)?.input;

  it('resolves #{Namespace.Variable} references from earlier actions and pipeline variables', async () => {
    const { outcome, calls } = await run(compiled, { 'Build · Compile': withImage }, { ...input, variables: { ENV: 'prod' } });
    expect(outcome.status).toBe('SUCCEEDED');
    const build = inputOf(calls, 'Build · Compile') as { EnvironmentVariablesOverride: Array<{ Name: string; Value: string }>; SourceVersion: string };
    expect(build.SourceVersion).toBe('c0ffee');
    expect(build.EnvironmentVariablesOverride.find((v) => v.Name === 'TAG')?.Value).toBe('web-c0ffee');
    expect(build.EnvironmentVariablesOverride.find((v) => v.Name === 'ENV')?.Value).toBe('prod');
    const approve = inputOf(calls, 'Release · Approve') as { Payload: { customData: string; source: { CommitId: string } } };
    expect(approve.Payload.customData).toBe('Ship web:42 to prod?');
    expect(approve.Payload.source.CommitId).toBe('c0ffee');
    expect((inputOf(calls, 'Release · Announce') as { Payload: { userParameters: string } }).Payload.userParameters).toBe('tester');
  });

  it('runs actions of one runOrder concurrently', async () => {
    let running = 0;
    let most = 0;
    const slow = (result: () => unknown) => async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      return result();
    };
    const { outcome } = await run(compiled, { 'Build · Compile': slow(withImage), 'Build · Unit': slow(withImage) });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(most).toBe(2);
  });

  it('fails with the failing parallel action named, and stops before later stages', async () => {
    const { outcome, calls } = await run(compiled, {
      'Build · Compile': withImage,
      'Build · Unit': failWith('Stepline.BuildFailed', '3 tests failed'),
    });
    expect(outcome).toStrictEqual({ status: 'FAILED', error: 'Stepline.BuildFailed', cause: 'Stage Build, action Unit failed: 3 tests failed' });
    expect(calls.some((c) => c.state.startsWith('Release'))).toBe(false);
  });

  it('fails with Stepline.ApprovalRejected when the approval is rejected', async () => {
    const { outcome } = await run(compiled, {
      'Build · Compile': withImage,
      'Release · Approve': failWith('Stepline.ApprovalRejected', 'rejected by ana@example.com: not today'),
    });
    expect(outcome).toMatchObject({
      status: 'FAILED',
      error: 'Stepline.ApprovalRejected',
      cause: 'Stage Release, action Approve failed: rejected by ana@example.com: not today',
    });
  });

  it('runs an execution started from outside stepline with {} on the branch head with default variables', async () => {
    const { outcome, calls } = await run(compiled, { 'Build · Compile': withImage }, {} as never);
    expect(outcome.status).toBe('SUCCEEDED');
    expect((inputOf(calls, 'Source · Checkout') as { Payload: { trigger: unknown } }).Payload.trigger).toStrictEqual({});
    const build = inputOf(calls, 'Build · Compile') as { EnvironmentVariablesOverride: Array<{ Name: string; Value: string }> };
    expect(build.EnvironmentVariablesOverride.find((v) => v.Name === 'ENV')?.Value).toBe('staging');
  });

  it('retries a source, approval or gate Task that failed with Stepline.Transient (GitHub rate limit, S3 throttling)', async () => {
    const failOnce = (state: string, answer: (input: unknown) => unknown) => {
      let failed = false;
      return (taskInput: unknown) => {
        if (!failed) {
          failed = true;
          throw Object.assign(new Error(`${state}: GitHub answered 429`), { name: 'Stepline.Transient' });
        }
        return answer(taskInput);
      };
    };
    const base = stubHandlers(compiled);
    const { outcome, calls } = await run(compiled, {
      'Build · Compile': withImage,
      'Source · Checkout': failOnce('source', (i) => base['Source · Checkout']?.(i)),
      'Release · Approve': failOnce('approval', (i) => base['Release · Approve']?.(i)),
      'Build · enter stage': failOnce('gate', () => ({})),
    });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(calls.filter((c) => c.state === 'Source · Checkout')).toHaveLength(2);
    expect(calls.filter((c) => c.state === 'Release · Approve')).toHaveLength(2);
  }, 30_000);

  it('resumes at a stage entry with the state given (retry-stage-execution), skipping earlier stages', async () => {
    const state = {
      input,
      variables: { ENV: 'prod' },
      actions: { Source_Checkout: { variables: { CommitId: 'feed' } }, Build_Compile: { exportedVariables: [{ Name: 'IMAGE', Value: 'web:7' }] } },
    };
    const { outcome, calls, stages } = await run(compiled, {}, { resume: { stage: 'Release', state } } as never);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(stages).toStrictEqual(['Release']);
    expect(calls.some((c) => c.state.startsWith('Build') || c.state.startsWith('Source'))).toBe(false);
    expect((inputOf(calls, 'Release · Approve') as { Payload: { customData: string } }).Payload.customData).toBe('Ship web:7 to prod?');
  });
});

describe('a batch build action, compiled and executed', () => {
  const compiled = compilePipeline(
    parsePipelineText(
      pipelineYaml(
        'batch',
        `  - name: Build
    actions: [{ name: Matrix, kind: build, inputArtifacts: [Src], batchEnabled: true, combineArtifacts: true, outputArtifacts: [All], timeoutMinutes: 30 }]
  - name: Deploy
    actions: [{ name: Ship, kind: invoke, command: ./ship, inputArtifacts: [All] }]
`,
      ),
    ),
    { target: 'aws' },
  );

  it('passes asl-validator, starts the batch with StartBuildBatch parameters and goes on when it succeeds', async () => {
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    const { outcome, calls, stages } = await run(compiled);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(stages).toStrictEqual(['Source', 'Build', 'Deploy']);
    const started = calls.find((c) => c.state === 'Build · Matrix')?.input as Record<string, unknown>;
    expect(started).toMatchObject({ ProjectName: 'stepline-batch-Build-Matrix', SourceVersion: 'c0ffee', BuildTimeoutInMinutesOverride: 30 });
  });

  it('fails naming the Build stage when the batch fails, and deploys nothing', async () => {
    const { outcome, calls } = await run(compiled, {
      'Build · Matrix': failWith('Stepline.BuildFailed', 'the batch failed: build2 FAILED'),
    });
    expect(outcome).toStrictEqual({
      status: 'FAILED',
      error: 'Stepline.BuildFailed',
      cause: 'Stage Build, action Matrix failed: the batch failed: build2 FAILED',
    });
    expect(calls.some((c) => c.state.startsWith('Deploy'))).toBe(false);
  });
});

describe('commands actions and source revisions in the compiled machine', () => {
  const compiled = compilePipeline(
    parsePipelineText(`
name: web
stages:
  - name: Source
    actions:
      - { name: App, kind: source, repository: acme/web, outputArtifacts: [Src] }
      - { name: Lib, kind: source, repository: acme/lib, outputArtifacts: [LibSrc] }
  - name: Package
    actions:
      - { name: Stamp, kind: commands, namespace: StampVars, outputVariables: [TAG], inputArtifacts: [Src, LibSrc], commands: ["export TAG=v1"] }
      - { name: Announce, kind: invoke, command: ./announce, runOrder: 2, userParameters: "#{StampVars.TAG}" }
`),
    { target: 'aws' },
  );
  const stamp = {
    'Package · Stamp': () => ({ Build: { Id: 'b:1', BuildNumber: 1, BuildStatus: 'SUCCEEDED', ExportedEnvironmentVariables: [{ Name: 'TAG', Value: 'v1' }] } }),
  };
  const payloadOf = (calls: StubCall[], state: string) =>
    (calls.find((c) => c.state === state)?.input as { Payload?: Record<string, unknown> } | undefined)?.Payload ?? {};

  it('hands every source action the revisions named at start, and none when a webhook started it', async () => {
    const sourceRevisions = [{ actionName: 'Lib', revisionType: 'COMMIT_ID' as const, revisionValue: 'a'.repeat(40) }];
    const pinned = await run(compiled, stamp, { ...input, sourceRevisions });
    expect(pinned.outcome, JSON.stringify(pinned.outcome)).toMatchObject({ status: 'SUCCEEDED' });
    expect(payloadOf(pinned.calls, 'Source · App').sourceRevisions).toStrictEqual(sourceRevisions);
    expect(payloadOf(pinned.calls, 'Source · Lib').sourceRevisions).toStrictEqual(sourceRevisions);

    const webhook: ExecutionInput = {
      pipeline: 'web',
      trigger: { type: 'Webhook', deliveryId: 'd-1' },
      source: { repository: 'acme/web', commitId: 'b'.repeat(40) },
      variables: {},
    };
    const pushed = await run(compiled, stamp, webhook);
    expect(pushed.outcome, JSON.stringify(pushed.outcome)).toMatchObject({ status: 'SUCCEEDED' });
    expect(payloadOf(pushed.calls, 'Source · App')).toMatchObject({ trigger: webhook.source, sourceRevisions: [] });
  });

  it('runs a commands action as a build and passes its exported variable to a later action', async () => {
    const { outcome, calls } = await run(compiled, {
      'Package · Stamp': () => ({
        Build: { Id: 'b:1', BuildNumber: 1, BuildStatus: 'SUCCEEDED', ExportedEnvironmentVariables: [{ Name: 'TAG', Value: 'v1' }] },
      }),
    });
    expect(outcome.status).toBe('SUCCEEDED');
    expect(calls.find((c) => c.state === 'Package · Stamp')?.input).toMatchObject({
      ProjectName: 'stepline-web-Package-Stamp',
      BuildspecOverride: expect.stringContaining('export TAG=v1'),
    });
    expect(payloadOf(calls, 'Package · Announce').userParameters).toBe('v1');
  });
});

describe('a stepfunctions action whose FilePath input is missing on AWS', () => {
  it('fails naming the file and the artifact, not with S3’s error', async () => {
    const compiled = compilePipeline(
      parsePipelineText(
        pipelineYaml(
          'flow',
          `  - name: Orchestrate
    actions:
      - { name: Release, kind: stepfunctions, stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:release", inputType: FilePath, input: ci/input.json, inputArtifacts: [Src] }
`,
        ),
      ),
      { target: 'aws' },
    );
    expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    const { outcome, calls } = await run(compiled, {
      'Orchestrate · Release · read input': failWith('S3.NoSuchKeyException', 'The specified key does not exist.'),
    });
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'Stepline.ActionFailed' });
    expect((outcome as { cause?: string }).cause).toContain('action Release: input file ci/input.json is not in artifact Src');
    expect(calls.map((c) => c.state)).not.toContain('Orchestrate · Release');
  });
});
