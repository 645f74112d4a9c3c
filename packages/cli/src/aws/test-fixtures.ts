/**
 * Test data for the AWS backend: a compiled pipeline with its manifest, and Step Functions history
 * events written the way GetExecutionHistory returns them. Used by tests only.
 */
import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';
import { type CompiledPipeline, compilePipeline, machineHash, type Pipeline, parsePipeline } from '@stepline/core';
import { MANIFEST_VERSION, ManifestTag, type PipelineManifest } from './manifest';

export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';
export const BUCKET = 'stepline-team-artifacts';

export const webPipeline: Pipeline = parsePipeline({
  name: 'web',
  executionMode: 'QUEUED',
  variables: [{ name: 'ENV', default: 'staging' }],
  stages: [
    { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['src'] }] },
    { name: 'Build', actions: [{ name: 'Compile', kind: 'build', inputArtifacts: ['src'], outputArtifacts: ['out'] }] },
    { name: 'Approve', actions: [{ name: 'Release', kind: 'approval' }] },
    {
      name: 'Deploy',
      beforeEntry: { result: 'FAIL', rules: [{ name: 'Window', provider: 'DeploymentWindow', cron: '* 9-17 ? * MON-FRI *', timeZone: 'UTC' }] },
      onSuccess: { result: 'FAIL', rules: [{ name: 'Smoke', provider: 'Commands', commands: ['./smoke'] }] },
      actions: [{ name: 'Ship', kind: 'invoke', function: 'ship', inputArtifacts: ['out'] }],
    },
  ],
});

export const webCompiled: CompiledPipeline = compilePipeline(webPipeline, { target: 'aws', region: REGION, accountId: ACCOUNT, artifactBucket: BUCKET });

export function manifestOf(pipeline: Pipeline, compiled: CompiledPipeline, installation = 'team'): PipelineManifest {
  return {
    version: MANIFEST_VERSION,
    installation,
    pipeline,
    stateMap: compiled.stateMap,
    machineHash: machineHash(compiled.definition),
    stateMachineName: `stepline-${installation}-${pipeline.name}`,
    artifactBucket: BUCKET,
    gatePrefix: '_stepline/gates/',
  };
}

export const machineArn = (name: string, installation = 'team') => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:stepline-${installation}-${name}`;
export const executionArn = (pipeline: string, execution: string, installation = 'team') =>
  `arn:aws:states:${REGION}:${ACCOUNT}:execution:stepline-${installation}-${pipeline}:${execution}`;

export function tagsOf(pipeline: string, installation = 'team') {
  return [
    { key: ManifestTag.Pipeline, value: pipeline },
    { key: ManifestTag.Installation, value: installation },
    { key: ManifestTag.Manifest, value: `s3://${BUCKET}/_stepline/pipelines/${pipeline}.json` },
  ];
}

/** Writes history events in order, each following the one before (a run without parallel branches). */
export class HistoryWriter {
  readonly events: HistoryEvent[] = [];
  private time = Date.parse('2026-11-26T10:00:00Z');

  private push(type: HistoryEventType, details: Partial<HistoryEvent>): this {
    const id = this.events.length + 1;
    this.time += 1000;
    this.events.push({ id, previousEventId: id - 1, timestamp: new Date(this.time), type, ...details });
    return this;
  }

  started(input: unknown): this {
    return this.push('ExecutionStarted', { executionStartedEventDetails: { input: JSON.stringify(input), roleArn: 'arn:aws:iam::1:role/r' } });
  }

  entered(name: string, input: unknown = {}, type: HistoryEventType = 'TaskStateEntered'): this {
    return this.push(type, { stateEnteredEventDetails: { name, input: JSON.stringify(input) } });
  }

  exited(name: string, output: unknown = {}, type: HistoryEventType = 'TaskStateExited'): this {
    return this.push(type, { stateExitedEventDetails: { name, output: JSON.stringify(output) } });
  }

  pass(name: string, input: unknown = {}, output: unknown = input): this {
    return this.entered(name, input, 'PassStateEntered').exited(name, output, 'PassStateExited');
  }

  scheduled(resourceType: string, parameters: unknown): this {
    return this.push('TaskScheduled', {
      taskScheduledEventDetails: { resourceType, resource: 'invoke', region: REGION, parameters: JSON.stringify(parameters) },
    });
  }

  succeeded(resourceType: string, output: unknown): this {
    return this.push('TaskSucceeded', { taskSucceededEventDetails: { resourceType, resource: 'x', output: JSON.stringify(output) } });
  }

  failed(resourceType: string, error: string, cause: string): this {
    return this.push('TaskFailed', { taskFailedEventDetails: { resourceType, resource: 'x', error, cause } });
  }

  /** A gate Task the gate function answered at once; `state` is the state data the stage was entered with. */
  gate(stage: string, state: unknown = {}): this {
    const name = `${stage} · enter stage`;
    return this.entered(name, state)
      .scheduled('lambda', { FunctionName: 'gate', Payload: { taskToken: `gate-${stage}` } })
      .succeeded('lambda', {})
      .exited(name);
  }
}

/** History of a `web` execution that built, and now waits at the approval. */
export function waitingForApproval(): HistoryWriter {
  const input = { pipeline: 'web', trigger: { type: 'Webhook' }, source: { commitId: 'c0ffee', branchName: 'main' }, variables: {} };
  return new HistoryWriter()
    .started(input)
    .pass('Initialize', input, { input, defaults: { ENV: 'staging' } })
    .pass('Resolve variables', {}, { input, variables: { ENV: 'staging' }, actions: {} })
    .gate('Source')
    .entered('Source · Checkout')
    .scheduled('lambda', { FunctionName: 'source' })
    .succeeded('lambda', { Payload: { variables: { CommitId: 'c0ffee' } } })
    .exited('Source · Checkout')
    .gate('Build')
    .entered('Build · Compile')
    .scheduled('codebuild', { ProjectName: 'stepline-team-web-Build-Compile' })
    .succeeded('codebuild', {
      Build: {
        Id: 'stepline-team-web-Build-Compile:1',
        Logs: { DeepLink: 'https://console.aws.amazon.com/cloudwatch/logs/1' },
        Phases: [
          { PhaseType: 'SUBMITTED', PhaseStatus: 'SUCCEEDED', DurationInSeconds: 0 },
          { PhaseType: 'BUILD', PhaseStatus: 'SUCCEEDED', DurationInSeconds: 42 },
          { PhaseType: 'COMPLETED' },
        ],
      },
    })
    .exited('Build · Compile')
    .gate('Approve')
    .entered('Approve · Release')
    .scheduled('lambda', { FunctionName: 'approval', Payload: { taskToken: 'approval-token', stage: 'Approve' } });
}

/** History of a `web` execution approved at Approve, now waiting for Deploy's deployment window to open. */
/**
 * An execution whose Deploy stage waits on its closed deployment window. `result` is the check's
 * answer (by default one from a machine compiled before checks named their evaluation).
 */
export function waitingOnDeployWindow(result: object = windowClosedAnswer()): HistoryWriter {
  const check = 'Deploy · check entry conditions';
  return waitingForApproval()
    .succeeded('lambda', { approvedBy: 'ana' })
    .exited('Approve · Release')
    .gate('Deploy')
    .entered(check)
    .scheduled('lambda', { FunctionName: 'conditions' })
    .succeeded('lambda', { Payload: result })
    .exited(check, { check: { result } })
    .entered('Deploy · entry conditions met?', {}, 'ChoiceStateEntered')
    .exited('Deploy · entry conditions met?', {}, 'ChoiceStateExited')
    .entered('Deploy · wait for entry conditions', {}, 'WaitStateEntered');
}

function windowClosedAnswer() {
  const reason = 'outside the window * 9-17 ? * MON-FRI * (UTC); it opens at 2026-11-30T09:00:00.000Z';
  return {
    status: 'WAIT',
    rule: 'Window',
    reason,
    waitSeconds: 300,
    watch: {},
    rules: [{ rule: 'Window', provider: 'DeploymentWindow', status: 'WAIT', reason }],
  };
}
