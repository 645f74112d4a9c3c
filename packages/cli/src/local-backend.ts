/**
 * The CLI's verbs against this machine: the SQLite history under `.stepline/` of the current
 * directory, and the definitions recorded there by earlier runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApprovalDecision, checkVariableOverrides, newExecutionId, type Pipeline, type PipelineState } from '@stepline/core';
import {
  compileForThisMachine,
  type ExecutionRow,
  executionDetail,
  executionSummary,
  HistoryStore,
  LocalApprovals,
  loadSigningKey,
  localPipelineState,
  markOrphans,
} from '@stepline/local';
import type { ApprovalDecision as Decision, ExecutionDetail, ExecutionSummary, PipelineBackend, PipelineSummary, StartOptions } from './backend';
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
    const { pipeline } = await this.pipeline(e.pipeline);
    return executionDetail(this.store, pipeline, e);
  }

  /** Starts `stepline run` in the background; its output goes to `.stepline/runs/<execution>.log`. */
  async startExecution(name: string, options: StartOptions): Promise<{ executionId: string }> {
    const { pipeline, file } = await this.pipeline(name);
    // Refused here, not in a log nobody reads: unknown variables, actions this machine cannot run.
    checkVariableOverrides(pipeline, options.variables);
    compileForThisMachine(pipeline);
    const executionId = options.clientRequestToken ?? newExecutionId(new Date(), Math.random);
    if (this.store.getExecution(executionId)) return { executionId };
    const logs = join(this.state, 'runs');
    mkdirSync(logs, { recursive: true });
    const logFile = join(logs, `${executionId}.log`);
    const out = openSync(logFile, 'a');
    const args = [process.argv[1] ?? 'stepline', 'run', file, '--approve', 'link', '--execution-id', executionId];
    for (const [k, v] of Object.entries(options.variables)) args.push('--var', `${k}=${v}`);
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
    const e = this.execution(executionId);
    if (e.status !== 'InProgress' && e.status !== 'Stopping') throw new UsageError(`execution ${executionId} is ${e.status}: nothing to stop`);
    this.store.requestStop(executionId, options.abandon ? 'abandon' : 'stop');
  }

  async retryStageExecution(): Promise<{ executionId: string }> {
    throw new UsageError('retry-stage-execution runs in the foreground on this machine (the CLI handles it)');
  }

  async disableStageTransition(name: string, stage: string, reason: string): Promise<void> {
    const { pipeline } = await this.pipeline(name);
    this.requireStage(pipeline, stage);
    if (pipeline.stages[0]?.name === stage) throw new UsageError(`stage ${stage} is the first stage: it has no inbound transition to disable`);
    this.store.applyGate(pipeline.name, { type: 'disable', stage, reason, at: new Date().toISOString(), by: process.env.USER ?? 'local user' });
  }

  async enableStageTransition(name: string, stage: string): Promise<void> {
    const { pipeline } = await this.pipeline(name);
    this.requireStage(pipeline, stage);
    this.store.applyGate(pipeline.name, { type: 'enable', stage }, pipeline.executionMode);
  }

  async decideApproval(executionId: string, decision: Decision): Promise<void> {
    const execution = this.execution(executionId);
    if (execution.status !== 'InProgress') throw new UsageError(`execution ${executionId} is ${execution.status}: nothing waits for a decision`);
    const pending = this.store.approvals(executionId).filter((a) => a.status === 'Pending' && (decision.stage === undefined || a.stage === decision.stage));
    if (pending.length === 0) throw new UsageError(`execution ${executionId} has no pending approval${decision.stage ? ` in stage ${decision.stage}` : ''}`);
    if (pending.length > 1) throw new UsageError(`several approvals wait (stages ${pending.map((a) => a.stage).join(', ')}): name one with --stage`);
    const [approval] = pending as [(typeof pending)[number]];
    const approvals = new LocalApprovals(this.store, loadSigningKey(join(this.state, 'signing-key')));
    if (!approvals.allowed(approval, decision.approver))
      throw new UsageError(`${decision.approver} may not decide this approval (allowed: ${approval.approvers?.emailDomains?.join(', ')})`);
    const result = approvals.decide(
      approval.id,
      decision.decision === 'Approved' ? ApprovalDecision.Approve : ApprovalDecision.Reject,
      decision.approver,
      decision.comment ?? '',
    );
    if (!result.decided) throw new UsageError(`the approval was already ${result.approval?.status.toLowerCase() ?? 'closed'}`);
  }

  private requireStage(pipeline: Pipeline, stage: string): void {
    if (!pipeline.stages.some((s) => s.name === stage))
      throw new UsageError(`pipeline ${pipeline.name} has no stage ${stage} (stages: ${pipeline.stages.map((s) => s.name).join(', ')})`);
  }
}
