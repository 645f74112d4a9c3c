/**
 * The local runtime's history, in SQLite under `.stepline/`: executions, their state-machine events
 * (from which stage and action statuses are computed, by core's `pipelineStateFrom`), builds with
 * their phases and log files, approvals, artifacts, and each pipeline's gate state. Several
 * processes share it (a `run`, a `serve`, an `approve` from another terminal), so every write is a
 * short transaction and readers poll.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  applyGateEvent,
  type ExecutionInput,
  type ExecutionMode,
  type ExecutionStatus,
  emptyGateState,
  type GateEffect,
  type GateEvent,
  type GateState,
  type HistoryEvent,
} from '@stepline/core';
import Database from 'better-sqlite3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS executions (
  id TEXT PRIMARY KEY,
  pipeline TEXT NOT NULL,
  status TEXT NOT NULL,
  trigger_type TEXT NOT NULL,
  delivery_id TEXT,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  error TEXT,
  cause TEXT,
  input TEXT NOT NULL,
  definition_file TEXT,
  pid INTEGER,
  stop_requested TEXT,
  attempt INTEGER NOT NULL DEFAULT 1,
  commit_id TEXT,
  branch TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS executions_delivery ON executions (pipeline, delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_pipeline ON executions (pipeline, started_at);
CREATE TABLE IF NOT EXISTS events (
  execution_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  at TEXT NOT NULL,
  error TEXT,
  cause TEXT,
  PRIMARY KEY (execution_id, seq)
);
CREATE TABLE IF NOT EXISTS stage_entries (
  execution_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  state_name TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (execution_id, stage)
);
CREATE TABLE IF NOT EXISTS builds (
  execution_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  action TEXT NOT NULL,
  build_id TEXT NOT NULL,
  status TEXT NOT NULL,
  log_file TEXT,
  phases TEXT NOT NULL DEFAULT '[]',
  reports TEXT NOT NULL DEFAULT '[]',
  started_at TEXT NOT NULL,
  ended_at TEXT,
  PRIMARY KEY (execution_id, stage, action, build_id)
);
CREATE TABLE IF NOT EXISTS build_numbers (project TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY,
  execution_id TEXT NOT NULL,
  pipeline TEXT NOT NULL,
  stage TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  custom_data TEXT,
  external_link TEXT,
  commit_id TEXT,
  approvers TEXT,
  requested_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  decided_by TEXT,
  comment TEXT,
  decided_at TEXT
);
CREATE TABLE IF NOT EXISTS artifacts (
  execution_id TEXT NOT NULL,
  name TEXT NOT NULL,
  dir TEXT NOT NULL,
  files INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (execution_id, name)
);
CREATE TABLE IF NOT EXISTS gates (pipeline TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pipelines (name TEXT PRIMARY KEY, file TEXT NOT NULL, updated_at TEXT NOT NULL);
`;

export interface ExecutionRow {
  id: string;
  pipeline: string;
  status: ExecutionStatus;
  triggerType: string;
  deliveryId?: string;
  startedAt: string;
  endedAt?: string;
  error?: string;
  cause?: string;
  input: ExecutionInput;
  definitionFile?: string;
  pid?: number;
  stopRequested?: 'stop' | 'abandon';
  attempt: number;
  /** The commit the source action resolved. */
  commitId?: string;
  branch?: string;
}

export interface BuildRow {
  executionId: string;
  stage: string;
  action: string;
  buildId: string;
  status: string;
  logFile?: string;
  phases: Array<{ name: string; status: string; durationMs: number }>;
  reports: Array<{ name: string; passed: number; failed: number; skipped: number; failures?: Array<{ name: string; suite?: string; message?: string }> }>;
  startedAt: string;
  endedAt?: string;
}

export type ApprovalStatus = 'Pending' | 'Approved' | 'Rejected' | 'Expired';

export interface ApprovalRow {
  id: string;
  executionId: string;
  pipeline: string;
  stage: string;
  action: string;
  status: ApprovalStatus;
  customData?: string;
  externalLink?: string;
  commitId?: string;
  /** Who may decide (e-mail domains), as the action declares. */
  approvers?: { emailDomains?: string[]; slackUserIds?: string[] };
  requestedAt: string;
  expiresAt: string;
  decidedBy?: string;
  comment?: string;
  decidedAt?: string;
}

type Row = Record<string, unknown>;
const opt = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (v as T));

function toExecution(r: Row): ExecutionRow {
  return {
    id: String(r.id),
    pipeline: String(r.pipeline),
    status: r.status as ExecutionStatus,
    triggerType: String(r.trigger_type),
    deliveryId: opt(r.delivery_id),
    startedAt: String(r.started_at),
    endedAt: opt(r.ended_at),
    error: opt(r.error),
    cause: opt(r.cause),
    input: JSON.parse(String(r.input)) as ExecutionInput,
    definitionFile: opt(r.definition_file),
    pid: opt(r.pid),
    stopRequested: opt(r.stop_requested),
    attempt: Number(r.attempt),
    commitId: opt(r.commit_id),
    branch: opt(r.branch),
  };
}

function toApproval(r: Row): ApprovalRow {
  return {
    id: String(r.id),
    executionId: String(r.execution_id),
    pipeline: String(r.pipeline),
    stage: String(r.stage),
    action: String(r.action),
    status: r.status as ApprovalStatus,
    customData: opt(r.custom_data),
    externalLink: opt(r.external_link),
    commitId: opt(r.commit_id),
    approvers: r.approvers ? JSON.parse(String(r.approvers)) : undefined,
    requestedAt: String(r.requested_at),
    expiresAt: String(r.expires_at),
    decidedBy: opt(r.decided_by),
    comment: opt(r.comment),
    decidedAt: opt(r.decided_at),
  };
}

export class HistoryStore {
  readonly db: Database.Database;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL keeps the database consistent through a crash, without an fsync per event.
    this.db.pragma('synchronous = NORMAL');
    // Other processes (an `approve` in another terminal) write too: wait for them rather than fail.
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  // Executions

  /** Inserts a new execution; returns false when one with the same (pipeline, delivery id) exists. */
  createExecution(e: Omit<ExecutionRow, 'attempt' | 'status'> & { status?: ExecutionStatus }): boolean {
    const result = this.db
      .prepare(
        `INSERT INTO executions (id, pipeline, status, trigger_type, delivery_id, started_at, input, definition_file, pid)
         VALUES (@id, @pipeline, @status, @triggerType, @deliveryId, @startedAt, @input, @definitionFile, @pid)
         ON CONFLICT DO NOTHING`,
      )
      .run({
        id: e.id,
        pipeline: e.pipeline,
        status: e.status ?? 'InProgress',
        triggerType: e.triggerType,
        deliveryId: e.deliveryId ?? null,
        startedAt: e.startedAt,
        input: JSON.stringify(e.input),
        definitionFile: e.definitionFile ?? null,
        pid: e.pid ?? null,
      });
    return result.changes === 1;
  }

  getExecution(id: string): ExecutionRow | undefined {
    const row = this.db.prepare('SELECT * FROM executions WHERE id = ?').get(id) as Row | undefined;
    return row ? toExecution(row) : undefined;
  }

  findByDelivery(pipeline: string, deliveryId: string): ExecutionRow | undefined {
    const row = this.db.prepare('SELECT * FROM executions WHERE pipeline = ? AND delivery_id = ?').get(pipeline, deliveryId) as Row | undefined;
    return row ? toExecution(row) : undefined;
  }

  listExecutions(pipeline?: string, limit = 100): ExecutionRow[] {
    const rows = (
      pipeline === undefined
        ? this.db.prepare('SELECT * FROM executions ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit)
        : this.db.prepare('SELECT * FROM executions WHERE pipeline = ? ORDER BY started_at DESC, rowid DESC LIMIT ?').all(pipeline, limit)
    ) as Row[];
    return rows.map(toExecution);
  }

  /** Executions not yet ended, whoever runs them. */
  activeExecutions(): ExecutionRow[] {
    return (this.db.prepare("SELECT * FROM executions WHERE status IN ('InProgress', 'Stopping')").all() as Row[]).map(toExecution);
  }

  setExecutionStatus(id: string, status: ExecutionStatus, end?: { at: string; error?: string; cause?: string }): void {
    this.db
      .prepare('UPDATE executions SET status = ?, ended_at = ?, error = ?, cause = ? WHERE id = ?')
      .run(status, end?.at ?? null, end?.error ?? null, end?.cause ?? null, id);
  }

  /** A retry (redrive) of the same execution: in progress again, one attempt more, owned by this process. */
  restartExecution(id: string, pid: number): void {
    this.db
      .prepare(
        "UPDATE executions SET status = 'InProgress', ended_at = NULL, error = NULL, cause = NULL, stop_requested = NULL, attempt = attempt + 1, pid = ? WHERE id = ?",
      )
      .run(pid, id);
  }

  setSource(id: string, commitId: string, branch: string): void {
    this.db.prepare('UPDATE executions SET commit_id = COALESCE(commit_id, ?), branch = COALESCE(branch, ?) WHERE id = ?').run(commitId, branch, id);
  }

  setPid(id: string, pid: number | undefined): void {
    this.db.prepare('UPDATE executions SET pid = ? WHERE id = ?').run(pid ?? null, id);
  }

  requestStop(id: string, mode: 'stop' | 'abandon'): void {
    this.db
      .prepare("UPDATE executions SET stop_requested = ?, status = CASE WHEN status = 'InProgress' THEN 'Stopping' ELSE status END WHERE id = ?")
      .run(mode, id);
  }

  // Events

  appendEvents(executionId: string, events: readonly HistoryEvent[]): void {
    if (events.length === 0) return;
    const next = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM events WHERE execution_id = ?');
    const insert = this.db.prepare('INSERT INTO events (execution_id, seq, type, state, at, error, cause) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      let seq = Number((next.get(executionId) as Row).seq);
      for (const e of events) insert.run(executionId, ++seq, e.type, e.state, e.at, e.error ?? null, e.cause ?? null);
    })();
  }

  events(executionId: string): HistoryEvent[] {
    const rows = this.db.prepare('SELECT type, state, at, error, cause FROM events WHERE execution_id = ? ORDER BY seq').all(executionId) as Row[];
    return rows.map((r) => ({ type: r.type as HistoryEvent['type'], state: String(r.state), at: String(r.at), error: opt(r.error), cause: opt(r.cause) }));
  }

  /** The state data an execution had when it reached a stage's entry: where a retry starts from. */
  recordStageEntry(executionId: string, stage: string, stateName: string, data: unknown): void {
    this.db
      .prepare('INSERT OR REPLACE INTO stage_entries (execution_id, stage, state_name, data) VALUES (?, ?, ?, ?)')
      .run(executionId, stage, stateName, JSON.stringify(data));
  }

  stageEntry(executionId: string, stage: string): { stateName: string; data: unknown } | undefined {
    const row = this.db.prepare('SELECT state_name, data FROM stage_entries WHERE execution_id = ? AND stage = ?').get(executionId, stage) as Row | undefined;
    return row ? { stateName: String(row.state_name), data: JSON.parse(String(row.data)) } : undefined;
  }

  // Builds

  nextBuildNumber(project: string): number {
    return this.db.transaction(() => {
      this.db.prepare('INSERT INTO build_numbers (project, last) VALUES (?, 1) ON CONFLICT (project) DO UPDATE SET last = last + 1').run(project);
      return Number((this.db.prepare('SELECT last FROM build_numbers WHERE project = ?').get(project) as Row).last);
    })();
  }

  saveBuild(b: BuildRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO builds (execution_id, stage, action, build_id, status, log_file, phases, reports, started_at, ended_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        b.executionId,
        b.stage,
        b.action,
        b.buildId,
        b.status,
        b.logFile ?? null,
        JSON.stringify(b.phases),
        JSON.stringify(b.reports),
        b.startedAt,
        b.endedAt ?? null,
      );
  }

  builds(executionId: string): BuildRow[] {
    const rows = this.db.prepare('SELECT * FROM builds WHERE execution_id = ? ORDER BY started_at').all(executionId) as Row[];
    return rows.map((r) => ({
      executionId: String(r.execution_id),
      stage: String(r.stage),
      action: String(r.action),
      buildId: String(r.build_id),
      status: String(r.status),
      logFile: opt(r.log_file),
      phases: JSON.parse(String(r.phases)),
      reports: JSON.parse(String(r.reports)),
      startedAt: String(r.started_at),
      endedAt: opt(r.ended_at),
    }));
  }

  // Approvals

  createApproval(a: Omit<ApprovalRow, 'status'>): void {
    this.db
      .prepare(
        `INSERT INTO approvals (id, execution_id, pipeline, stage, action, status, custom_data, external_link, commit_id, approvers, requested_at, expires_at)
         VALUES (?, ?, ?, ?, ?, 'Pending', ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        a.id,
        a.executionId,
        a.pipeline,
        a.stage,
        a.action,
        a.customData ?? null,
        a.externalLink ?? null,
        a.commitId ?? null,
        a.approvers ? JSON.stringify(a.approvers) : null,
        a.requestedAt,
        a.expiresAt,
      );
  }

  getApproval(id: string): ApprovalRow | undefined {
    const row = this.db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }

  approvals(executionId: string): ApprovalRow[] {
    return (this.db.prepare('SELECT * FROM approvals WHERE execution_id = ? ORDER BY requested_at').all(executionId) as Row[]).map(toApproval);
  }

  /**
   * Decides a pending approval, once: returns the decided row, or undefined when it was no longer
   * pending (already decided, expired), so a reused link or a second terminal changes nothing.
   */
  decideApproval(id: string, d: { status: 'Approved' | 'Rejected' | 'Expired'; decidedBy: string; comment: string; at: string }): ApprovalRow | undefined {
    const changed = this.db
      .prepare("UPDATE approvals SET status = ?, decided_by = ?, comment = ?, decided_at = ? WHERE id = ? AND status = 'Pending'")
      .run(d.status, d.decidedBy, d.comment, d.at, id).changes;
    return changed === 1 ? this.getApproval(id) : undefined;
  }

  /** Closes the approvals still pending in an execution that has ended, so nothing decides them later. */
  expirePendingApprovals(executionId: string, at: string): void {
    this.db.prepare("UPDATE approvals SET status = 'Expired', decided_at = ? WHERE execution_id = ? AND status = 'Pending'").run(at, executionId);
  }

  // Artifacts

  recordArtifact(executionId: string, name: string, dir: string, files: number, at: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO artifacts (execution_id, name, dir, files, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(executionId, name, dir, files, at);
  }

  artifacts(executionId: string): Array<{ name: string; dir: string; files: number }> {
    return (this.db.prepare('SELECT name, dir, files FROM artifacts WHERE execution_id = ? ORDER BY created_at').all(executionId) as Row[]).map((r) => ({
      name: String(r.name),
      dir: String(r.dir),
      files: Number(r.files),
    }));
  }

  forgetArtifacts(executionId: string, names: readonly string[]): void {
    const del = this.db.prepare('DELETE FROM artifacts WHERE execution_id = ? AND name = ?');
    this.db.transaction(() => {
      for (const n of names) del.run(executionId, n);
    })();
  }

  // Gates

  gateState(pipeline: string): GateState {
    const row = this.db.prepare('SELECT state FROM gates WHERE pipeline = ?').get(pipeline) as Row | undefined;
    return row ? (JSON.parse(String(row.state)) as GateState) : emptyGateState();
  }

  /** Applies a gate event atomically (no other process sees a half-applied state). */
  applyGate(pipeline: string, event: GateEvent, mode?: ExecutionMode): GateState {
    return this.db
      .transaction(() => {
        const next = applyGateEvent(this.gateState(pipeline), event, mode);
        this.db
          .prepare('INSERT INTO gates (pipeline, state) VALUES (?, ?) ON CONFLICT (pipeline) DO UPDATE SET state = excluded.state')
          .run(pipeline, JSON.stringify(next));
        return next;
      })
      .immediate();
  }

  /** Takes the answer owed to a task token, if there is one, and records it as delivered. */
  takeGateEffect(pipeline: string, token: string): GateEffect | undefined {
    return this.db
      .transaction(() => {
        const state = this.gateState(pipeline);
        const effect = state.pending.find((e) => e.token === token);
        if (!effect) return undefined;
        const next = applyGateEvent(state, { type: 'delivered', effects: [effect] });
        this.db.prepare('UPDATE gates SET state = ? WHERE pipeline = ?').run(JSON.stringify(next), pipeline);
        return effect;
      })
      .immediate();
  }

  // Pipelines seen by this machine

  rememberPipeline(name: string, file: string, at: string): void {
    this.db
      .prepare(
        'INSERT INTO pipelines (name, file, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET file = excluded.file, updated_at = excluded.updated_at',
      )
      .run(name, file, at);
  }

  pipelines(): Array<{ name: string; file: string; updatedAt: string }> {
    return (this.db.prepare('SELECT name, file, updated_at FROM pipelines ORDER BY name').all() as Row[]).map((r) => ({
      name: String(r.name),
      file: String(r.file),
      updatedAt: String(r.updated_at),
    }));
  }
}
