/**
 * The history of executions: each execution (with what it ran), its state-machine events, and the state data it had at each stage entry (where a retry starts from).
 */
import type { ExecutedMachine, ExecutionInput, ExecutionStatus, HistoryEvent } from '@stepline/core';
import type Database from 'better-sqlite3';
import { opt, type Row } from './database';

export const EXECUTIONS_SCHEMA = `
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
  branch TEXT,
  machine TEXT
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
  -- A condition's check Task: its answer, JSON (core's ConditionCheckResult).
  check_result TEXT,
  PRIMARY KEY (execution_id, seq)
);
CREATE TABLE IF NOT EXISTS stage_entries (
  execution_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  state_name TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (execution_id, stage)
);
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
  /** The file the pipeline was read from; what it ran is `machine`, which does not change when the file does. */
  definitionFile?: string;
  pid?: number;
  stopRequested?: 'stop' | 'abandon';
  attempt: number;
  /** The commit the source action resolved. */
  commitId?: string;
  branch?: string;
  /** What it ran: its definition, state map and machine hash. Absent for executions recorded before they were kept. */
  machine?: ExecutedMachine;
}

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
    ...(typeof r.machine === 'string' && { machine: JSON.parse(r.machine) as ExecutedMachine }),
  };
}

export class ExecutionRecords {
  constructor(private readonly db: Database.Database) {}

  /** Inserts a new execution; returns false when one with the same (pipeline, delivery id) exists. */
  createExecution(e: Omit<ExecutionRow, 'attempt' | 'status'> & { status?: ExecutionStatus }): boolean {
    const result = this.db
      .prepare(
        `INSERT INTO executions (id, pipeline, status, trigger_type, delivery_id, started_at, input, definition_file, pid, machine)
         VALUES (@id, @pipeline, @status, @triggerType, @deliveryId, @startedAt, @input, @definitionFile, @pid, @machine)
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
        machine: e.machine ? JSON.stringify(e.machine) : null,
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

  appendEvents(executionId: string, events: readonly HistoryEvent[]): void {
    if (events.length === 0) return;
    const next = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM events WHERE execution_id = ?');
    const insert = this.db.prepare('INSERT INTO events (execution_id, seq, type, state, at, error, cause, check_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      let seq = Number((next.get(executionId) as Row).seq);
      for (const e of events) insert.run(executionId, ++seq, e.type, e.state, e.at, e.error ?? null, e.cause ?? null, e.check ? JSON.stringify(e.check) : null);
    })();
  }

  events(executionId: string): HistoryEvent[] {
    const rows = this.db
      .prepare('SELECT type, state, at, error, cause, check_result FROM events WHERE execution_id = ? ORDER BY seq')
      .all(executionId) as Row[];
    return rows.map((r) => ({
      type: r.type as HistoryEvent['type'],
      state: String(r.state),
      at: String(r.at),
      error: opt(r.error),
      cause: opt(r.cause),
      ...(r.check_result !== null && r.check_result !== undefined && { check: JSON.parse(String(r.check_result)) }),
    }));
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
}
