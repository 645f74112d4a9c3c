/**
 * The CLI's verbs against this machine: the SQLite history under `.stepline/` of the current
 * directory, and the definitions recorded there by earlier runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConditionOverride,
  checkSourceRevisionOverrides,
  checkVariableOverrides,
  type ExecutionDetail,
  type ExecutionSummary,
  newExecutionId,
  type Pipeline,
  type PipelineState,
  type PipelineSummary,
  type RuleExecution,
} from '@stepline/core';
import {
  ControlRefusedError,
  compileForThisMachine,
  decideApproval,
  type ExecutionRow,
  executionDetail,
  executionSummary,
  HistoryStore,
  LocalApprovals,
  loadSigningKey,
  localPipelineState,
  localRuleExecutions,
  markOrphans,
  overrideStageCondition,
  setStageTransition,
  stopExecution,
} from '@stepline/local';
import type { DecideApprovalOptions, OverrideConditionOptions, PipelineBackend, StartOptions } from './backend';
import { UsageError } from './errors';
import { DEFAULT_FILES, loadPipeline } from './load-pipeline';

export class LocalBackend implements PipelineBackend {
  readonly store: HistoryStore;
  readonly state: string;

  constructor(readonly project: string = process.cwd()) {
    this.state = join(project, '.stepline');
    this.store = new HistoryStore(join(this.state, 'stepline.db'));
    // What a killed runner left InProgress is said as it is, whichever verb looks first.
    markOrphans(this.store);
  }

  close(): void {
    this.store.close();
  }

  /** A pipeline by name: the file an earlier run recorded, or a definition file in the project. */
  async pipeline(name: string | undefined): Promise<{ pipeline: Pipeline; file: string }> {
    const known = this.store.pipelines();
    if (name === undefined) {
      const here = DEFAULT_FILES.some((f) => existsSync(join(this.project, f)));
      if (here) return loadPipeline(undefined, this.project);
      if (known.length === 1 && known[0]) return loadPipeline(known[0].file, this.project);
      throw new UsageError(
        known.length === 0 ? 'no pipeline here: name one, or run one first (stepline run <file>)' : `name a pipeline: ${known.map((k) => k.name).join(', ')}`,
      );
    }
    const record = known.find((k) => k.name === name);
    if (record && existsSync(record.file)) return loadPipeline(record.file, this.project);
    const here = DEFAULT_FILES.find((f) => existsSync(join(this.project, f)));
    if (here) {
      const loaded = await loadPipeline(here, this.project);
      if (loaded.pipeline.name === name) return loaded;
    }
    throw new UsageError(`no pipeline named ${name} on this machine${known.length ? ` (known: ${known.map((k) => k.name).join(', ')})` : ''}`);
  }

  private execution(id: string): ExecutionRow {
    const e = this.store.getExecution(id);
    if (!e) throw new UsageError(`no execution ${id} on this machine (see stepline list-executions)`);
    return e;
  }

  async listPipelines(): Promise<PipelineSummary[]> {
    const out: PipelineSummary[] = this.store.pipelines().map((p) => ({ name: p.name, location: p.file, updated: p.updatedAt }));
    const here = DEFAULT_FILES.find((f) => existsSync(join(this.project, f)));
    if (here) {
      const { pipeline, file } = await loadPipeline(here, this.project);
      if (!out.some((p) => p.name === pipeline.name)) out.push({ name: pipeline.name, location: file });
      const entry = out.find((p) => p.name === pipeline.name);
      if (entry) entry.executionMode = pipeline.executionMode;
    }
    return out;
  }

  async listExecutions(pipeline?: string): Promise<ExecutionSummary[]> {
    return this.store.listExecutions(pipeline).map(executionSummary);
  }

  async getPipelineState(name: string, executionId?: string): Promise<PipelineState> {
    const { pipeline } = await this.pipeline(name);
    if (executionId !== undefined) this.execution(executionId);
    return localPipelineState(this.store, pipeline, executionId);
  }

  async getExecution(executionId: string): Promise<ExecutionDetail> {
    const e = this.execution(executionId);
    // Shown through the pipeline it ran; today's file only for an execution recorded before that was kept.
    return executionDetail(this.store, e.machine ? undefined : (await this.pipeline(e.pipeline)).pipeline, e);
  }

  /** Starts `stepline run` in the background; its output goes to `.stepline/runs/<execution>.log`. */
  async startExecution(name: string, options: StartOptions): Promise<{ executionId: string }> {
    const { pipeline, file } = await this.pipeline(name);
    // Refused here, not in a log nobody reads: unknown variables, actions this machine cannot run.
    checkVariableOverrides(pipeline, options.variables);
    const revisions = checkSourceRevisionOverrides(pipeline, options.sourceRevisions ?? [], 'local');
    compileForThisMachine(pipeline);
    const executionId = options.clientRequestToken ?? newExecutionId(new Date(), Math.random);
    if (this.store.getExecution(executionId)) return { executionId };
    const logs = join(this.state, 'runs');
    mkdirSync(logs, { recursive: true });
    const logFile = join(logs, `${executionId}.log`);
    const out = openSync(logFile, 'a');
    const args = [process.argv[1] ?? 'stepline', 'run', file, '--approve', 'link', '--execution-id', executionId];
    for (const [k, v] of Object.entries(options.variables)) args.push('--var', `${k}=${v}`);
    for (const r of revisions) args.push('--source-revision', `${r.actionName}=${r.revisionType}:${r.revisionValue}`);
    const child = spawn(process.execPath, args, { cwd: this.project, detached: true, stdio: ['ignore', out, out] });
    let exited: number | null | undefined;
    child.once('exit', (code) => {
      exited = code;
    });
    child.unref();
    // Wait until the run has recorded the execution, so that what comes next can find it.
    for (let i = 0; i < 150 && !this.store.getExecution(executionId); i++) {
      if (exited !== undefined) {
        const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-3).join(' / ');
        throw new UsageError(`the run ended before it started (exit ${exited}): ${tail}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { executionId };
  }

  async stopExecution(executionId: string, options: { abandon: boolean }): Promise<void> {
    refused(() => stopExecution(this.store, executionId, options.abandon));
  }

  async retryStageExecution(): Promise<{ executionId: string }> {
    throw new UsageError('retry-stage-execution runs in the foreground on this machine (the CLI handles it)');
  }

  async rollbackStage(): Promise<{ executionId: string; targetExecution: string }> {
    throw new UsageError('rollback-stage runs in the foreground on this machine (the CLI handles it)');
  }

  async disableStageTransition(name: string, stage: string, reason: string): Promise<void> {
    const { pipeline } = await this.pipeline(name);
    refused(() => setStageTransition(this.store, pipeline, stage, { enabled: false, reason, by: process.env.USER ?? 'local user' }));
  }

  async enableStageTransition(name: string, stage: string): Promise<void> {
    const { pipeline } = await this.pipeline(name);
    refused(() => setStageTransition(this.store, pipeline, stage, { enabled: true }));
  }

  async decideApproval(executionId: string, decision: DecideApprovalOptions): Promise<void> {
    const approvals = new LocalApprovals(this.store, loadSigningKey(join(this.state, 'signing-key')));
    refused(() =>
      decideApproval(approvals, executionId, {
        approve: decision.decision === 'Approved',
        approver: decision.approver,
        comment: decision.comment ?? '',
        ...(decision.stage !== undefined && { stage: decision.stage }),
      }),
    );
  }

  async listRuleExecutions(name: string, filter: { pipelineExecutionId?: string }): Promise<RuleExecution[]> {
    const { pipeline } = await this.pipeline(name);
    if (filter.pipelineExecutionId !== undefined) this.execution(filter.pipelineExecutionId);
    return localRuleExecutions(this.store, pipeline, filter.pipelineExecutionId);
  }

  async overrideStageCondition(name: string, request: OverrideConditionOptions): Promise<ConditionOverride> {
    const { pipeline } = await this.pipeline(name);
    return refused(() => overrideStageCondition(this.store, pipeline, { ...request, at: new Date().toISOString() }));
  }
}

/** The history's refusal, as one line on the terminal. */
function refused<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof ControlRefusedError) throw new UsageError(error.message);
    throw error;
  }
}
