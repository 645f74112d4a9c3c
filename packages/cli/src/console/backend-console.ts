/**
 * The console over a `PipelineBackend` that can also hand over an execution's history: how
 * `stepline dashboard --target aws` shows an installation. Pipeline state comes from the backend
 * (core's `pipelineStateFrom`), timeline and traffic from core's readers of the same history, and
 * every page action is the CLI verb of the same name, made with the user's own credentials.
 */
import { actionTimeline, type HistoryEvent, type Pipeline, type StateMap, stageToRetry, trafficFrom, withRollbackReason } from '@stepline/core';
import * as web from '@stepline/web';
import type { ExecutionDetail, PipelineBackend } from '../backend';
import { UsageError } from '../errors';
import type { LogText } from './cloudwatch-logs';

/** How much of a log a page shows at first; the rest streams. */
const LOG_TAIL_CHARS = 64 * 1024;

export interface HistoryReader {
  getExecutionHistory(executionId: string): Promise<{ detail: ExecutionDetail; pipeline: Pipeline; stateMap: StateMap; events: HistoryEvent[] }>;
  getPipelineDefinition(name: string): Promise<Pipeline>;
}

/** A backend's "no such thing" answer is a 404 page; anything else is an error worth showing. */
async function orMissing<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UsageError && /^no (pipeline|execution)/.test(error.message)) return undefined;
    throw error;
  }
}

async function refusedAs<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UsageError) throw new web.ConsoleActionError(error.message);
    throw error;
  }
}

export class BackendConsole implements web.ConsoleSource {
  readonly actions: web.ConsoleActions | undefined;
  private readonly logText: LogText | undefined;
  /** Where each build's log is, from the last time its execution was read: `execution\0Stage.Action`. */
  private readonly logStreams = new Map<string, { groupName: string; streamName: string }>();

  constructor(
    private readonly backend: PipelineBackend & HistoryReader,
    readonly where: string,
    readonly defaultApprover: string,
    options: { readOnly?: boolean; logText?: LogText } = {},
  ) {
    this.actions = options.readOnly ? undefined : this.makeActions();
    this.logText = options.logText;
  }

  async pipelines(): Promise<web.PipelinesData> {
    const list = await this.backend.listPipelines();
    const recent = await this.backend.listExecutions();
    const pipelines = await Promise.all(
      list.map(async (p) => {
        const latest = recent.find((x) => x.pipeline === p.name);
        return { name: p.name, location: p.location, state: await this.backend.getPipelineState(p.name), ...(latest && { latest }) };
      }),
    );
    return { pipelines, recent: recent.slice(0, 15) };
  }

  async pipeline(name: string): Promise<web.PipelineData | undefined> {
    const definition = await orMissing(() => this.backend.getPipelineDefinition(name));
    if (!definition) return undefined;
    const [state, executions, listed] = await Promise.all([
      this.backend.getPipelineState(name),
      this.backend.listExecutions(name),
      this.backend.listPipelines(),
    ]);
    const location = listed.find((p) => p.name === name)?.location;
    return {
      name,
      ...(location !== undefined && { location }),
      executionMode: definition.executionMode,
      ...(definition.description !== undefined && { description: definition.description }),
      state,
      ...(executions[0] && { latest: executions[0] }),
      executions,
      variables: definition.variables.map((v) => ({
        name: v.name,
        ...(v.default !== undefined && { default: v.default }),
        ...(v.description !== undefined && { description: v.description }),
      })),
    };
  }

  async execution(executionId: string): Promise<web.ExecutionData | undefined> {
    const read = await orMissing(() => this.backend.getExecutionHistory(executionId));
    if (!read) return undefined;
    const { detail, pipeline, stateMap, events } = read;
    const builds: web.BuildView[] = [];
    for (const [key, b] of Object.entries(detail.builds)) {
      const dot = key.indexOf('.');
      let log: web.BuildView['log'];
      if (b.cloudWatchLogs && this.logText) {
        this.logStreams.set(`${executionId}\u0000${key}`, b.cloudWatchLogs);
        const text = await this.logText(b.cloudWatchLogs.groupName, b.cloudWatchLogs.streamName);
        const from = Math.max(0, text.length - LOG_TAIL_CHARS);
        const cut = from > 0 ? text.indexOf('\n', from) + 1 : 0;
        log = { text: text.slice(cut), size: text.length, truncated: from > 0 };
      }
      builds.push({
        stage: key.slice(0, dot),
        action: key.slice(dot + 1),
        ...(b.buildId !== undefined && { buildId: b.buildId }),
        status: b.status ?? (b.phases.some((p) => p.status === 'FAILED') ? 'FAILED' : b.phases.length > 0 ? 'SUCCEEDED' : 'IN_PROGRESS'),
        phases: b.phases,
        reports: b.reports ?? [],
        ...(b.logLocation !== undefined && { logLocation: b.logLocation }),
        ...(log && { log }),
      });
    }
    const retryStage = detail.status === 'Failed' || detail.status === 'Stopped' ? stageToRetry(stateMap, events) : undefined;
    return {
      detail,
      timeline: actionTimeline(stateMap, events),
      traffic: withRollbackReason(trafficFrom(pipeline, stateMap, events), detail.cause),
      builds,
      approvals: detail.approvals,
      artifacts: detail.artifacts.map((a) => ({ name: a.name, location: a.location, ...(a.files !== undefined && { fileCount: a.files }) })),
      ...(retryStage !== undefined && { retryStage }),
    };
  }

  /** A build's log from CloudWatch Logs, from a character offset on. */
  async log(executionId: string, stage: string, action: string, from: number): Promise<web.LogChunk | undefined> {
    const where = this.logStreams.get(`${executionId}\u0000${stage}.${action}`);
    if (!where || !this.logText) return undefined;
    const text = await this.logText(where.groupName, where.streamName);
    return { text: text.slice(from), size: text.length };
  }

  private makeActions(): web.ConsoleActions {
    const b = this.backend;
    return {
      start: (pipeline, variables) => refusedAs(() => b.startExecution(pipeline, { variables })),
      stop: (id, abandon) => refusedAs(() => b.stopExecution(id, { abandon, reason: 'stopped from the console' })),
      retry: (id) => refusedAs(async () => void (await b.retryStageExecution(id))),
      decide: (id, stage, approve, comment, who) =>
        refusedAs(() => b.decideApproval(id, { decision: approve ? 'Approved' : 'Rejected', approver: who, comment, ...(stage && { stage }) })),
      setTransition: (pipeline, stage, enabled, reason) =>
        refusedAs(() => (enabled ? b.enableStageTransition(pipeline, stage) : b.disableStageTransition(pipeline, stage, reason))),
    };
  }
}
