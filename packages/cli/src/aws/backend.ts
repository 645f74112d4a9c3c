/**
 * The CLI's verbs against an AWS installation: Step Functions for executions and their history, S3 for
 * the pipeline manifests (parsed pipeline + state map, written by `sst deploy`) and the gate state.
 * Pipeline state comes from core's `pipelineStateFrom`, fed the execution history through the state map,
 * exactly as on one machine. Disabling and enabling a transition goes through the gate function's own
 * code (`GateService`), so the CLI and the function cannot disagree about who may run.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineState.html
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionAlreadyExists,
  type ExecutionListItem,
  ListExecutionsCommand,
  ListTagsForResourceCommand,
  paginateListStateMachines,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  type ConditionOverride,
  checkOverridable,
  checkSourceRevisionOverrides,
  checkVariableOverrides,
  conditionOverrideKey,
  decisionResult,
  ErrorName,
  type ExecutionInput,
  ExecutionInputSchema,
  executionName,
  gateStateName,
  type HistoryEvent,
  newExecutionId,
  overridableCondition,
  type Pipeline,
  type PipelineState,
  pipelineExecutionStatus,
  pipelineStateFrom,
  type ResumeInput,
  type RuleExecution,
  readableCause,
  ruleExecutionsFrom,
  type StateMap,
  SteplineError,
  stageToRetry,
  TriggerType,
} from '@stepline/core';
import {
  copyStageInputs,
  executionArnOf,
  MachineManifests,
  mapLimit,
  normalizeHistory,
  RollbackRefused,
  readHistory,
  stageEntryState,
  startRollback,
} from '@stepline/functions/executions';
// The gate adapters only: the CLI need not load the canary's SDK clients.
import { GateService, S3GateStore, SfnTaskResponder } from '@stepline/functions/gates';
import type {
  DecideApprovalOptions,
  ExecutionDetail,
  ExecutionSummary,
  OverrideConditionOptions,
  PipelineBackend,
  PipelineSummary,
  StartOptions,
} from '../backend';
import { UsageError } from '../errors';
import { explainAwsError } from './credentials';
import { approvalsFrom, buildsFrom, variablesFrom } from './history';
import { ManifestTag, type PipelineManifest, parseManifest, parseS3Url } from './manifest';

export interface AwsBackendOptions {
  sfn: SFNClient;
  s3: S3Client;
  /** The SST stage whose installation to use. @default every stepline state machine in the account and region */
  stage?: string;
  /** Who the CLI acts as, in approvals and disabled transitions. @default the OS user */
  actor?: string;
  /** Executions listed per pipeline. @default 20 */
  listLimit?: number;
  now?: () => Date;
  random?: () => number;
}

/** One pipeline of the installation. */
export interface InstalledPipeline {
  name: string;
  /** The SST stage that installed it. */
  installation: string;
  stateMachineArn: string;
  createdAt?: Date;
  /** Today's manifest: the pipeline as last deployed. */
  manifest: PipelineManifest;
  /** Where today's manifest is; each machine's own sits beside it (core's `machineManifestKey`). */
  manifestLocation: { bucket: string; key: string };
}

interface Located {
  installed: InstalledPipeline;
  executionArn: string;
  description: DescribeExecutionCommandOutput;
}

/** How many AWS calls the backend keeps in flight when it fans out (tags, descriptions). */
const CONCURRENCY = 8;

export class AwsBackend implements PipelineBackend {
  private readonly sfn: SFNClient;
  private readonly s3: S3Client;
  private readonly stage: string | undefined;
  private readonly actor: string;
  private readonly listLimit: number;
  private readonly now: () => Date;
  private readonly random: () => number;
  private installed: Promise<InstalledPipeline[]> | undefined;
  private readonly manifests: MachineManifests;

  constructor(options: AwsBackendOptions) {
    this.sfn = options.sfn;
    this.s3 = options.s3;
    this.stage = options.stage;
    this.actor = options.actor ?? process.env.USER ?? 'stepline-cli';
    this.listLimit = options.listLimit ?? 20;
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.manifests = new MachineManifests(this.sfn, this.s3);
  }

  listPipelines(): Promise<PipelineSummary[]> {
    return this.guard('list-pipelines', async () =>
      (await this.pipelines()).map((p) => ({
        name: p.name,
        location: p.stateMachineArn,
        executionMode: p.manifest.pipeline.executionMode,
        ...(p.createdAt !== undefined && { updated: p.createdAt.toISOString() }),
      })),
    );
  }

  listExecutions(pipeline?: string): Promise<ExecutionSummary[]> {
    return this.guard('list-executions', async () => {
      const targets = pipeline === undefined ? await this.pipelines() : [await this.pipeline(pipeline)];
      const lists = await Promise.all(
        targets.map(async (p) => {
          const listed = await this.sfn.send(new ListExecutionsCommand({ stateMachineArn: p.stateMachineArn, maxResults: this.listLimit }));
          return mapLimit(listed.executions ?? [], CONCURRENCY, (item) => this.summaryOf(p, item));
        }),
      );
      return lists.flat().sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
    });
  }

  getPipelineState(pipeline: string, executionId?: string): Promise<PipelineState> {
    return this.guard('get-pipeline-state', async () => {
      const installed = await this.pipeline(pipeline);
      const gates = (await this.gateStore(installed).load(installed.name)).document.state;
      let executionArn: string | undefined;
      if (executionId !== undefined) executionArn = (await this.locate(executionId, installed)).executionArn;
      else {
        const latest = await this.sfn.send(new ListExecutionsCommand({ stateMachineArn: installed.stateMachineArn, maxResults: 1 }));
        executionArn = latest.executions?.[0]?.executionArn;
      }
      if (executionArn === undefined) return pipelineStateFrom({ pipeline: installed.manifest.pipeline, stateMap: installed.manifest.stateMap, gates });
      const [description, events, { pipeline: model, stateMap }] = await Promise.all([
        this.sfn.send(new DescribeExecutionCommand({ executionArn })),
        this.history(executionArn),
        this.manifestOf(installed, executionArn),
      ]);
      return pipelineStateFrom({
        pipeline: model,
        stateMap,
        gates,
        execution: { executionId: description.name ?? '', status: statusOf(description), events: normalizeHistory(events) },
      });
    });
  }

  getExecution(executionId: string): Promise<ExecutionDetail> {
    return this.guard('get-execution', async () => (await this.readExecution(executionId)).detail);
  }

  /**
   * An execution with the definition, state map and normalized history it was read through: the
   * console draws its timeline and traffic chart from them.
   */
  getExecutionHistory(executionId: string): Promise<{ detail: ExecutionDetail; pipeline: Pipeline; stateMap: StateMap; events: HistoryEvent[] }> {
    return this.guard('get-execution', () => this.readExecution(executionId));
  }

  /** The definition an installed pipeline was deployed with. */
  getPipelineDefinition(name: string): Promise<Pipeline> {
    return this.guard('get-pipeline', async () => (await this.pipeline(name)).manifest.pipeline);
  }

  private async readExecution(executionId: string) {
    const { installed, executionArn, description } = await this.locate(executionId);
    const [raw, gate, artifacts, { pipeline, stateMap }] = await Promise.all([
      this.history(executionArn),
      this.gateStore(installed).load(installed.name),
      this.artifactsOf(installed, description.name ?? ''),
      this.manifestOf(installed, executionArn),
    ]);
    const summary = summaryFrom(installed, description);
    const events = normalizeHistory(raw);
    const state = pipelineStateFrom({
      pipeline,
      stateMap,
      gates: gate.document.state,
      execution: { executionId: summary.executionId, status: summary.status, events },
    });
    const detail: ExecutionDetail = {
      ...summary,
      ...(description.error !== undefined && { error: description.error }),
      // A CodeBuild Task's cause is the build's JSON: shown as the builds that failed.
      ...(description.cause !== undefined && { cause: readableCause(description.cause) }),
      state,
      builds: buildsFrom(raw, stateMap),
      approvals: approvalsFrom(raw, stateMap).map(({ token: _token, ...approval }) => approval),
      artifacts,
      variables: variablesFrom(raw),
    };
    return { detail, pipeline, stateMap, events };
  }

  startExecution(pipeline: string, options: StartOptions): Promise<{ executionId: string }> {
    return this.guard('start-pipeline-execution', async () => {
      const installed = await this.pipeline(pipeline);
      const variables = checkVariableOverrides(installed.manifest.pipeline, options.variables);
      const sourceRevisions = checkSourceRevisionOverrides(installed.manifest.pipeline, options.sourceRevisions ?? [], 'aws');
      const name = options.clientRequestToken !== undefined ? executionName(options.clientRequestToken) : newExecutionId(this.now(), this.random);
      const input: ExecutionInput = {
        pipeline: installed.name,
        trigger: { type: TriggerType.Manual, actor: this.actor },
        source: {},
        variables,
        ...(sourceRevisions.length > 0 && { sourceRevisions }),
      };
      try {
        await this.sfn.send(new StartExecutionCommand({ stateMachineArn: installed.stateMachineArn, name, input: JSON.stringify(input) }));
      } catch (error) {
        // The same request id twice starts one execution (the first); any other name clash is the caller's.
        if (error instanceof ExecutionAlreadyExists && options.clientRequestToken !== undefined) return { executionId: name };
        throw error;
      }
      return { executionId: name };
    });
  }

  stopExecution(executionId: string, options: { abandon: boolean; reason?: string }): Promise<void> {
    return this.guard('stop-pipeline-execution', async () => {
      const { executionArn, description } = await this.locate(executionId);
      if (description.status !== 'RUNNING') throw new UsageError(`execution ${description.name} is not in progress (${description.status})`);
      // Step Functions stops at once; a running CodeBuild build of a .sync Task is stopped with it.
      // Without --abandon the verb still stops now: there is no "finish running actions" on this runtime.
      const cause = `${options.abandon ? 'Stopped and abandoned' : 'Stopped'} by ${this.actor}${options.reason ? `: ${options.reason}` : ''}`;
      await this.sfn.send(new StopExecutionCommand({ executionArn, error: ErrorName.Stopped, cause }));
    });
  }

  /**
   * Retries a failed execution from its failed stage: a new execution of the same state machine,
   * named `<execution>-r<n>`, that enters through the machine's resume entry with the state data the
   * failed execution had at that stage's entry (read from its history). RedriveExecution cannot do it:
   * stepline catches a failure to name its stage and action, and a redrive would resume at the Fail
   * state the catch led to.
   */
  retryStageExecution(executionId: string): Promise<{ executionId: string }> {
    return this.guard('retry-stage-execution', async () => {
      const { installed, executionArn, description } = await this.locate(executionId);
      if (description.status === 'RUNNING' || description.status === 'SUCCEEDED') {
        throw new UsageError(
          `execution ${description.name} is ${description.status?.toLowerCase()}: only a failed, stopped or timed-out execution can be retried`,
        );
      }
      const [events, own] = await Promise.all([this.history(executionArn), this.manifestOf(installed, executionArn)]);
      const stage = stageToRetry(own.stateMap, normalizeHistory(events));
      const gate = stage === undefined ? undefined : gateStateName(stage);
      // The retry runs the machine deployed today, which enters a stage by the name it has today.
      if (gate !== undefined && installed.manifest.stateMap[gate] === undefined)
        throw new UsageError(`execution ${description.name} failed in stage ${stage}, which the pipeline deployed today no longer has: start a new execution`);
      const state = stage === undefined ? undefined : stageEntryState(events, stage);
      if (stage === undefined || state === undefined) throw new UsageError(`execution ${description.name} never entered a stage it could be retried from`);
      const input = JSON.stringify({ resume: { stage, state } } satisfies ResumeInput);
      const base = description.name ?? executionId;
      for (let attempt = 2; attempt < 100; attempt++) {
        const name = executionName(`${base.replace(/-r\d+$/, '')}-r${attempt}`);
        // The retry reads the earlier stages' artifacts under its own name: copied first (a name
        // taken already keeps its own, the copies being conditional).
        await copyStageInputs(this.s3, installed.manifest.artifactBucket, installed.manifest.pipeline, stage, base, name);
        try {
          await this.sfn.send(new StartExecutionCommand({ stateMachineArn: installed.stateMachineArn, name, input }));
          return { executionId: name };
        } catch (error) {
          if (!(error instanceof ExecutionAlreadyExists)) throw error;
        }
      }
      throw new UsageError(`execution ${base} was retried too many times`);
    });
  }

  /**
   * Rolls a stage back (CodePipeline's RollbackStage): a new execution of today's machine, named
   * `rollback-<stage>-<id>`, runs the stage alone with the artifacts and state data of the newest
   * execution that succeeded through it, or of `targetExecution`. Refused, with core's reasons, as on
   * one machine.
   */
  rollbackStage(pipeline: string, stage: string, options: { targetExecution?: string }): Promise<{ executionId: string; targetExecution: string }> {
    return this.guard('rollback-stage', async () => {
      const installed = await this.pipeline(pipeline);
      try {
        const started = await startRollback({
          sfn: this.sfn,
          s3: this.s3,
          stateMachineArn: installed.stateMachineArn,
          current: { manifest: installed.manifest, location: installed.manifestLocation },
          stage,
          name: executionName(`rollback-${stage}-${newExecutionId(this.now(), this.random)}`),
          trigger: { type: TriggerType.ManualRollback, actor: this.actor },
          ...(options.targetExecution !== undefined && { targetExecution: options.targetExecution }),
        });
        return { executionId: started.executionId, targetExecution: started.targetExecution };
      } catch (error) {
        if (error instanceof RollbackRefused) throw new UsageError(`rollback-stage: ${error.message}`, { cause: error });
        throw error;
      }
    });
  }

  disableStageTransition(pipeline: string, stage: string, reason: string): Promise<void> {
    return this.guard('disable-stage-transition', async () => {
      const installed = await this.pipeline(pipeline);
      checkStage(installed, stage);
      if (reason.trim() === '') throw new UsageError('disable-stage-transition needs a --reason');
      await this.gates(installed).disable(installed.name, stage, reason, this.actor);
    });
  }

  enableStageTransition(pipeline: string, stage: string): Promise<void> {
    return this.guard('enable-stage-transition', async () => {
      const installed = await this.pipeline(pipeline);
      checkStage(installed, stage);
      const result = await this.gates(installed).enable(installed.name, stage);
      if (result.owed.length > 0) {
        throw new UsageError(
          `stage ${stage} is enabled, but ${result.owed.length} held execution(s) could not be released yet; they will be with the pipeline's next event, or run enable-stage-transition again`,
        );
      }
    });
  }

  decideApproval(executionId: string, decision: DecideApprovalOptions): Promise<void> {
    return this.guard(decision.decision === 'Approved' ? 'approve' : 'reject', async () => {
      const { installed, executionArn, description } = await this.locate(executionId);
      const [events, own] = await Promise.all([this.history(executionArn), this.manifestOf(installed, executionArn)]);
      const approvals = approvalsFrom(events, own.stateMap);
      const waiting = approvals.filter((a) => a.status === 'Pending' && a.token !== undefined && (decision.stage === undefined || a.stage === decision.stage));
      const name = description.name ?? executionId;
      if (waiting.length === 0) {
        const where = decision.stage === undefined ? '' : ` in stage ${decision.stage}`;
        const seen = approvals.map((a) => `${a.stage}.${a.action}: ${a.status}`).join(', ');
        throw new UsageError(`execution ${name} has no approval waiting${where}${seen ? ` (${seen})` : ''}`);
      }
      if (waiting.length > 1)
        throw new UsageError(`several approvals of execution ${name} wait (stages ${waiting.map((a) => a.stage).join(', ')}): pass --stage`);
      const [approval] = waiting;
      if (approval?.token === undefined) return;
      try {
        // The same answer the approval links give (core's decisionResult), so both read alike in history.
        const result = decisionResult({
          decision: decision.decision === 'Approved' ? 'approve' : 'reject',
          approvedBy: decision.approver,
          comment: decision.comment ?? '',
          decidedAt: this.now().toISOString(),
        });
        if (result.type === 'success') await this.sfn.send(new SendTaskSuccessCommand({ taskToken: approval.token, output: JSON.stringify(result.output) }));
        else await this.sfn.send(new SendTaskFailureCommand({ taskToken: approval.token, error: result.error, cause: result.cause }));
      } catch (error) {
        if (error instanceof Error && ['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'].includes(error.name))
          throw new UsageError(`the approval ${approval.stage}.${approval.action} of execution ${name} is no longer waiting (decided or expired)`, {
            cause: error,
          });
        throw error;
      }
    });
  }

  /**
   * Rule executions from the executions' histories (each check Task's answer), newest execution first:
   * the one named, or the pipeline's last `listLimit`.
   */
  listRuleExecutions(pipeline: string, filter: { pipelineExecutionId?: string }): Promise<RuleExecution[]> {
    return this.guard('list-rule-executions', async () => {
      const installed = await this.pipeline(pipeline);
      const arns =
        filter.pipelineExecutionId !== undefined
          ? [(await this.locate(filter.pipelineExecutionId, installed)).executionArn]
          : (
              (await this.sfn.send(new ListExecutionsCommand({ stateMachineArn: installed.stateMachineArn, maxResults: this.listLimit }))).executions ?? []
            ).flatMap((e) => (e.executionArn ? [e.executionArn] : []));
      const lists = await mapLimit(arns, CONCURRENCY, async (executionArn) => {
        const [description, events, own] = await Promise.all([
          this.sfn.send(new DescribeExecutionCommand({ executionArn })),
          this.history(executionArn),
          this.manifestOf(installed, executionArn),
        ]);
        return ruleExecutionsFrom({
          pipeline: own.pipeline,
          execution: { executionId: description.name ?? '', status: statusOf(description), events: normalizeHistory(events) },
        });
      });
      return lists.flat();
    });
  }

  /**
   * Writes the override record the conditions function reads at its next check of the condition
   * (`conditionOverrideKey` in the artifact bucket, for the evaluation that waits), once the execution's
   * history shows it waiting there. Written once (`If-None-Match: *`): a second override says who came first.
   */
  overrideStageCondition(pipeline: string, request: OverrideConditionOptions): Promise<ConditionOverride> {
    return this.guard('override-stage-condition', async () => {
      const installed = await this.pipeline(pipeline);
      const condition = refusal(() => overridableCondition(request.conditionType));
      const { executionArn, description } = await this.locate(request.executionId, installed);
      const [events, own, gate] = await Promise.all([
        this.history(executionArn),
        this.manifestOf(installed, executionArn),
        this.gateStore(installed).load(installed.name),
      ]);
      const executionId = description.name ?? request.executionId;
      const state = pipelineStateFrom({
        pipeline: own.pipeline,
        stateMap: own.stateMap,
        gates: gate.document.state,
        execution: { executionId, status: statusOf(description), events: normalizeHistory(events) },
      });
      const evaluation = refusal(() => checkOverridable(own.pipeline, state, request.stage, condition));
      const override: ConditionOverride = { by: request.by, at: this.now().toISOString() };
      const Bucket = installed.manifest.artifactBucket;
      const Key = conditionOverrideKey(installed.name, executionId, request.stage, condition, evaluation);
      try {
        await this.s3.send(new PutObjectCommand({ Bucket, Key, Body: JSON.stringify(override), ContentType: 'application/json', IfNoneMatch: '*' }));
      } catch (error) {
        if (!(error instanceof Error && error.name === 'PreconditionFailed')) throw error;
        const earlier = JSON.parse((await (await this.s3.send(new GetObjectCommand({ Bucket, Key }))).Body?.transformToString('utf8')) ?? '{}');
        throw new UsageError(`the condition was already overridden by ${earlier.by} at ${earlier.at}`, { cause: error });
      }
      return override;
    });
  }

  /** Every stepline pipeline of the installation, found by its state machine's tags. */
  pipelines(): Promise<InstalledPipeline[]> {
    this.installed ??= this.discover().catch((error: unknown) => {
      this.installed = undefined;
      throw error;
    });
    return this.installed;
  }

  private async pipeline(name: string): Promise<InstalledPipeline> {
    const all = await this.pipelines();
    const matches = all.filter((p) => p.name === name);
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      const stages = matches.map((p) => p.installation).join(', ');
      throw new UsageError(`pipeline ${name} is in several installations (${stages}): pass --install <name>`);
    }
    const known = [...new Set(all.map((p) => p.name))].sort();
    const where = this.stage === undefined ? '' : ` ${this.stage}`;
    throw new UsageError(
      `no pipeline ${name} in the AWS installation${where}${known.length ? ` (it has ${known.join(', ')})` : ' (it has none: run `npx sst deploy`)'}`,
    );
  }

  private async discover(): Promise<InstalledPipeline[]> {
    const machines: Array<{ arn: string; createdAt?: Date }> = [];
    for await (const page of paginateListStateMachines({ client: this.sfn }, {})) {
      for (const m of page.stateMachines ?? [])
        if (m.stateMachineArn) machines.push({ arn: m.stateMachineArn, ...(m.creationDate && { createdAt: m.creationDate }) });
    }
    const found = await mapLimit(machines, CONCURRENCY, async (machine): Promise<InstalledPipeline | undefined> => {
      const { tags } = await this.sfn.send(new ListTagsForResourceCommand({ resourceArn: machine.arn }));
      const tag = (key: string) => tags?.find((t) => t.key === key)?.value;
      const name = tag(ManifestTag.Pipeline);
      if (name === undefined) return undefined;
      if (this.stage !== undefined && tag(ManifestTag.Installation) !== this.stage) return undefined;
      const url = tag(ManifestTag.Manifest) ?? '';
      const location = parseS3Url(url);
      if (!location)
        throw new UsageError(`state machine ${machine.arn} is tagged as stepline pipeline ${name} but its ${ManifestTag.Manifest} tag is not an s3:// URL`);
      const object = await this.s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
      const manifest = parseManifest((await object.Body?.transformToString('utf8')) ?? '', url);
      const installation = tag(ManifestTag.Installation) ?? manifest.installation;
      return {
        name,
        installation,
        stateMachineArn: machine.arn,
        ...(machine.createdAt && { createdAt: machine.createdAt }),
        manifest,
        manifestLocation: location,
      };
    });
    return found.filter((p): p is InstalledPipeline => p !== undefined).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Finds an execution by name (`exec-1`), as `<pipeline>/<name>`, or by ARN. The webhook names every
   * execution one delivery starts alike, so a bare name may match several pipelines.
   */
  private async locate(executionId: string, within?: InstalledPipeline): Promise<Located> {
    const all = within ? [within] : await this.pipelines();
    if (executionId.startsWith('arn:')) {
      const installed = all.find((p) => executionId.startsWith(executionArnPrefix(p.stateMachineArn)));
      if (!installed) throw new UsageError(`${executionId} is not an execution of ${within ? `pipeline ${within.name}` : 'this installation'}`);
      return { installed, executionArn: executionId, description: await this.describe(executionId, executionId) };
    }
    const slash = executionId.indexOf('/');
    if (slash > 0 && !within) return this.locate(executionId.slice(slash + 1), await this.pipeline(executionId.slice(0, slash)));
    const found = (
      await mapLimit(all, CONCURRENCY, async (installed) => {
        const executionArn = `${executionArnPrefix(installed.stateMachineArn)}${executionId}`;
        try {
          return { installed, executionArn, description: await this.sfn.send(new DescribeExecutionCommand({ executionArn })) };
        } catch (error) {
          if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return undefined;
          throw error;
        }
      })
    ).filter((l): l is Located => l !== undefined);
    const [only] = found;
    if (found.length === 1 && only) return only;
    if (found.length > 1)
      throw new UsageError(
        `execution ${executionId} exists in pipelines ${found.map((l) => l.installed.name).join(', ')}: name it as <pipeline>/${executionId}`,
      );
    throw new UsageError(`no execution ${executionId} in ${within ? `pipeline ${within.name}` : 'any pipeline of this installation'}`);
  }

  /** The manifest of the machine an execution ran (see `MachineManifests`). */
  private manifestOf(installed: InstalledPipeline, executionArn: string): Promise<PipelineManifest> {
    return this.manifests.of({ manifest: installed.manifest, location: installed.manifestLocation }, executionArn);
  }

  private async describe(executionArn: string, shown: string): Promise<DescribeExecutionCommandOutput> {
    try {
      return await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      if (error instanceof Error && error.name === 'ExecutionDoesNotExist') throw new UsageError(`no execution ${shown}`, { cause: error });
      throw error;
    }
  }

  private history(executionArn: string) {
    return readHistory(this.sfn, executionArn);
  }

  private async summaryOf(installed: InstalledPipeline, item: ExecutionListItem): Promise<ExecutionSummary> {
    const description = await this.sfn.send(new DescribeExecutionCommand({ executionArn: item.executionArn }));
    return summaryFrom(installed, description);
  }

  private async artifactsOf(installed: InstalledPipeline, execution: string): Promise<ExecutionDetail['artifacts']> {
    const bucket = installed.manifest.artifactBucket;
    const prefix = `${installed.name}/${execution}/`;
    const listed = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/' }));
    return (listed.CommonPrefixes ?? []).flatMap((p) => {
      const name = p.Prefix?.slice(prefix.length).replace(/\/$/, '');
      return name ? [{ name, location: `s3://${bucket}/${p.Prefix}` }] : [];
    });
  }

  private gateStore(installed: InstalledPipeline): S3GateStore {
    return new S3GateStore({ s3: this.s3, bucket: installed.manifest.artifactBucket, prefix: installed.manifest.gatePrefix });
  }

  private gates(installed: InstalledPipeline): GateService {
    return new GateService({ store: this.gateStore(installed), responder: new SfnTaskResponder(this.sfn), now: this.now, warn: () => undefined });
  }

  private async guard<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw explainAwsError(error, doing);
    }
  }
}

/** Core's refusal of a request (ControlRefused), as one line on the terminal. */
function refusal<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof SteplineError && error.name === ErrorName.ControlRefused) throw new UsageError(error.message);
    throw error;
  }
}

function checkStage(installed: InstalledPipeline, stage: string): void {
  const stages = installed.manifest.pipeline.stages.map((s) => s.name);
  if (!stages.includes(stage)) throw new UsageError(`pipeline ${installed.name} has no stage ${stage} (it has ${stages.join(', ')})`);
}

/** `arn:aws:states:<region>:<account>:stateMachine:<name>` → `arn:aws:states:<region>:<account>:execution:<name>:` */
const executionArnPrefix = (stateMachineArn: string) => executionArnOf(stateMachineArn, '');

const statusOf = (description: DescribeExecutionCommandOutput) =>
  pipelineExecutionStatus(description.status, description.error === undefined ? {} : { error: description.error });

function summaryFrom(installed: InstalledPipeline, description: DescribeExecutionCommandOutput): ExecutionSummary {
  const parsed = (() => {
    try {
      return ExecutionInputSchema.safeParse(JSON.parse(description.input ?? ''));
    } catch {
      return undefined;
    }
  })();
  const input = parsed?.success ? parsed.data : undefined;
  return {
    executionId: description.name ?? '',
    pipeline: installed.name,
    status: statusOf(description),
    startedAt: (description.startDate ?? new Date(0)).toISOString(),
    ...(description.stopDate !== undefined && { endedAt: description.stopDate.toISOString() }),
    ...(input?.trigger.type !== undefined && { trigger: input.trigger.type }),
    ...(input?.source.commitId !== undefined && { commitId: input.source.commitId }),
    ...(input?.source.branchName !== undefined && { branch: input.source.branchName }),
  };
}
