/**
 * The console on one machine: pages read from the SQLite history through the same queries the CLI
 * uses (`localPipelineState`, `executionDetail`), plus the times core reads from history (the
 * timeline, the deploy's traffic), log tails from the build logs (masked when written), and artifact
 * manifests from disk. Its actions drive the runtime of the server it lives in.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  actionTimeline,
  buildKey,
  buildName,
  type CompiledPipeline,
  checkVariableOverrides,
  compilePipeline,
  DefinitionError,
  newExecutionId,
  type Pipeline,
  stageToRetry,
  trafficFrom,
  withRollbackReason,
} from '@stepline/core';
import {
  type ArtifactView,
  type BuildView,
  ConsoleActionError,
  type ConsoleActions,
  type ConsoleSource,
  type ExecutionData,
  type LogChunk,
  type PipelineData,
  type PipelinesData,
} from '@stepline/web';
import Database from 'better-sqlite3';
import { localUser } from '../approvals/local-approvals';
import { FileRecordStore } from '../canary/records';
import { executedMachine, executionDetail, executionSummary, localPipelineState } from '../queries';
import type { LocalRuntime } from '../runtime/local-runtime';
import { ControlRefusedError, decideApproval, setStageTransition, stopExecution } from './local-controls';

/** How much of a log a page shows at first; the rest streams. */
export const LOG_TAIL_BYTES = 64 * 1024;
/** How much of a log one live update sends. */
const LOG_CHUNK_BYTES = 256 * 1024;
const HISTORY_ROWS = 50;

export interface LocalConsoleOptions {
  runtime: LocalRuntime;
  /** The pipelines this server knows, by name. */
  pipelines: () => ReadonlyMap<string, { pipeline: Pipeline; file: string }>;
  /** The git repository source actions read. */
  repo: string;
  where?: string;
  /** Runs an execution started from the page; the server waits for these when it closes. */
  launch: (work: Promise<unknown>, what: string) => void;
}

/** The history's refusal, as the page shows it. */
function refused(work: () => void): void {
  try {
    work();
  } catch (error) {
    if (error instanceof ControlRefusedError) throw new ConsoleActionError(error.message, error.status);
    throw error;
  }
}

/** Bytes up to the last complete UTF-8 character, so a chunk never splits one. */
function completeUtf8(buf: Buffer): Buffer {
  let end = buf.length;
  let i = end - 1;
  let back = 0;
  while (i >= 0 && back < 4 && ((buf[i] ?? 0) & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return buf;
  const lead = buf[i] ?? 0;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (need > back + 1) end = i;
  return buf.subarray(0, end);
}

async function readRange(file: string, from: number, max: number): Promise<{ bytes: Buffer; size: number } | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    const start = Math.min(from, size);
    const length = Math.min(max, size - start);
    const bytes = Buffer.alloc(length);
    if (length > 0) await handle.read(bytes, 0, length, start);
    return { bytes, size };
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

export class LocalConsole implements ConsoleSource {
  readonly where: string;
  readonly defaultApprover = localUser();
  readonly actions: ConsoleActions;
  private readonly compiled = new WeakMap<Pipeline, CompiledPipeline>();
  private readonly records: FileRecordStore;
  /** A connection of its own: `data_version` moves when any other connection (the runtime's too) commits. */
  private readonly watcher: Database.Database;

  constructor(private readonly options: LocalConsoleOptions) {
    this.where = options.where ?? 'this machine';
    this.records = new FileRecordStore(join(options.runtime.paths.state, 'deployments'));
    this.watcher = new Database(options.runtime.store.file, { readonly: true, fileMustExist: true });
    this.actions = this.makeActions();
  }

  close(): void {
    this.watcher.close();
  }

  private get store() {
    return this.options.runtime.store;
  }

  private compile(pipeline: Pipeline): CompiledPipeline {
    let c = this.compiled.get(pipeline);
    if (!c) {
      c = compilePipeline(pipeline);
      this.compiled.set(pipeline, c);
    }
    return c;
  }

  async changeToken(): Promise<string> {
    return String(this.watcher.pragma('data_version', { simple: true }));
  }

  async pipelines(): Promise<PipelinesData> {
    const pipelines = [...this.options.pipelines().values()].map(({ pipeline, file }) => {
      const latest = this.store.listExecutions(pipeline.name, 1)[0];
      return {
        name: pipeline.name,
        location: file,
        state: localPipelineState(this.store, pipeline),
        ...(latest && { latest: executionSummary(latest) }),
      };
    });
    return { pipelines, recent: this.store.listExecutions(undefined, 15).map(executionSummary) };
  }

  async pipeline(name: string): Promise<PipelineData | undefined> {
    const entry = this.options.pipelines().get(name);
    if (!entry) return undefined;
    const { pipeline, file } = entry;
    const executions = this.store.listExecutions(name, HISTORY_ROWS).map(executionSummary);
    const count = Number((this.store.db.prepare('SELECT COUNT(*) AS n FROM executions WHERE pipeline = ?').get(name) as { n: number }).n);
    return {
      name,
      location: file,
      executionMode: pipeline.executionMode,
      ...(pipeline.description !== undefined && { description: pipeline.description }),
      state: localPipelineState(this.store, pipeline),
      ...(executions[0] && { latest: executions[0] }),
      executions,
      executionCount: count,
      variables: pipeline.variables.map((v) => ({
        name: v.name,
        ...(v.default !== undefined && { default: v.default }),
        ...(v.description !== undefined && { description: v.description }),
      })),
    };
  }

  async execution(executionId: string): Promise<ExecutionData | undefined> {
    const row = this.store.getExecution(executionId);
    const entry = row && this.options.pipelines().get(row.pipeline);
    if (!row || (!entry && !row.machine)) return undefined;
    // Shown as it ran: the pipeline and state map recorded with it, not today's definition.
    const { pipeline, stateMap } = executedMachine(row, entry?.pipeline);
    const detail = executionDetail(this.store, pipeline, row);
    const events = this.store.events(executionId);
    const initial = new Map<string, boolean | undefined>();
    for (const stage of pipeline.stages) {
      for (const action of stage.actions) {
        if (action.kind !== 'deploy') continue;
        const stored = await this.records.get({ pipeline: pipeline.name, executionId, stage: stage.name, action: action.name }).catch(() => undefined);
        initial.set(`${stage.name}\u0000${action.name}`, stored?.record.initial);
      }
    }
    const traffic = withRollbackReason(trafficFrom(pipeline, stateMap, events, { initial: (s, a) => initial.get(`${s}\u0000${a}`) }), row.cause);
    // The latest build of each action (a retried stage builds again).
    const latest = new Map<string, (typeof builds)[number]>();
    const builds = this.store.builds(executionId);
    for (const b of builds) latest.set(buildKey(b.stage, b.action, b.batch?.identifier), b);
    const buildViews: BuildView[] = [];
    for (const b of latest.values()) {
      const log = b.logFile ? await this.tail(b.logFile) : undefined;
      buildViews.push({
        stage: b.stage,
        // Each build of a batch is shown, and its log read, as `Action/identifier`.
        action: buildName(b.action, b.batch?.identifier),
        buildId: b.buildId,
        status: b.status,
        startedAt: b.startedAt,
        ...(b.endedAt !== undefined && { endedAt: b.endedAt }),
        phases: b.phases,
        reports: b.reports,
        ...(b.logFile !== undefined && { logLocation: b.logFile }),
        ...(log && { log }),
      });
    }
    const artifacts: ArtifactView[] = [];
    for (const a of this.store.artifacts(executionId)) {
      const manifest = await readFile(join(a.dir, 'manifest.json'), 'utf8')
        .then((text) => JSON.parse(text) as { files?: Array<{ path: string; sha256: string; size?: number }> })
        .catch(() => undefined);
      artifacts.push({ name: a.name, location: a.dir, fileCount: a.files, ...(manifest?.files && { files: manifest.files }) });
    }
    const approvals = this.store.approvals(executionId).map((a) => ({
      stage: a.stage,
      action: a.action,
      status: a.status,
      ...(a.decidedBy !== undefined && a.decidedBy !== '' && { decidedBy: a.decidedBy }),
      ...(a.comment !== undefined && a.comment !== '' && { comment: a.comment }),
      ...(a.decidedAt !== undefined && { decidedAt: a.decidedAt }),
      ...(a.customData !== undefined && { customData: a.customData }),
      requestedAt: a.requestedAt,
      expiresAt: a.expiresAt,
      ...(a.approvers?.emailDomains?.length && { emailDomains: a.approvers.emailDomains }),
    }));
    const retryStage = row.status === 'Failed' || row.status === 'Stopped' ? stageToRetry(stateMap, events) : undefined;
    return {
      detail,
      timeline: actionTimeline(stateMap, events),
      traffic,
      builds: buildViews,
      approvals,
      artifacts,
      ...(retryStage !== undefined && this.store.stageEntry(executionId, retryStage) && { retryStage }),
    };
  }

  private async tail(file: string): Promise<BuildView['log']> {
    const size = await stat(file).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) return undefined;
    const from = Math.max(0, size - LOG_TAIL_BYTES);
    const range = await readRange(file, from, size - from);
    if (!range) return undefined;
    const whole = completeUtf8(range.bytes);
    // A tail starts at a line: the first one was cut.
    const nl = from > 0 ? whole.indexOf(10) : -1;
    return { text: whole.subarray(nl + 1).toString('utf8'), size: from + whole.length, truncated: from > 0 };
  }

  async log(executionId: string, stage: string, action: string, from: number): Promise<LogChunk | undefined> {
    const build = this.store
      .builds(executionId)
      .filter((b) => b.stage === stage && buildName(b.action, b.batch?.identifier) === action)
      .at(-1);
    if (!build?.logFile) return undefined;
    const range = await readRange(build.logFile, from, LOG_CHUNK_BYTES);
    if (!range) return undefined;
    const bytes = completeUtf8(range.bytes);
    return { text: bytes.toString('utf8'), size: Math.min(from, range.size) + bytes.length };
  }

  private entry(name: string) {
    const entry = this.options.pipelines().get(name);
    if (!entry) throw new ConsoleActionError(`no pipeline named ${name} here`, 404);
    return entry;
  }

  private execRow(id: string) {
    const row = this.store.getExecution(id);
    if (!row) throw new ConsoleActionError(`no execution ${id} here`, 404);
    return row;
  }

  private makeActions(): ConsoleActions {
    const runtime = this.options.runtime;
    return {
      start: async (name, variables, who) => {
        const { pipeline, file } = this.entry(name);
        try {
          checkVariableOverrides(pipeline, variables);
          runtime.compile(pipeline);
        } catch (error) {
          throw new ConsoleActionError(error instanceof DefinitionError ? error.message : String(error), 400);
        }
        const executionId = newExecutionId(new Date(), Math.random);
        this.options.launch(
          runtime.run({ pipeline, file, repo: this.options.repo, variables, executionId, trigger: { type: 'StartPipelineExecution', actor: who } }),
          `${name} ${executionId}`,
        );
        // Answer once the execution is recorded, so the page it redirects to shows it.
        for (let i = 0; i < 100 && !this.store.getExecution(executionId); i++) await new Promise((r) => setTimeout(r, 20));
        return { executionId };
      },
      stop: async (id, abandon) => refused(() => stopExecution(this.store, id, abandon)),
      retry: async (id) => {
        const row = this.execRow(id);
        if (row.status !== 'Failed' && row.status !== 'Stopped')
          throw new ConsoleActionError(`execution ${id} is ${row.status}: only a failed or stopped execution can be retried`);
        // Retried with the pipeline it ran; today's definition only for one recorded before that was kept.
        const current = row.machine ? undefined : this.entry(row.pipeline).pipeline;
        const stage = stageToRetry(executedMachine(row, current).stateMap, this.store.events(id));
        if (!stage || !this.store.stageEntry(id, stage)) throw new ConsoleActionError(`execution ${id} has no failed stage to retry from`);
        this.options.launch(runtime.retry(id, this.options.repo, current), `retry of ${id}`);
        // Answer once it runs again, so the page it redirects to shows it in progress.
        for (let i = 0; i < 100 && this.store.getExecution(id)?.status !== 'InProgress'; i++) await new Promise((r) => setTimeout(r, 20));
      },
      decide: async (id, stage, approve, comment, who) =>
        refused(() => decideApproval(runtime.approvals, id, { approve, approver: who, comment, ...(stage !== '' && { stage }) })),
      setTransition: async (name, stage, enabled, reason, who) =>
        refused(() => setStageTransition(this.store, this.entry(name).pipeline, stage, enabled ? { enabled } : { enabled, reason, by: who })),
    };
  }
}
