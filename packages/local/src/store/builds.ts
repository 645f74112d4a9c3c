/**
 * Builds: each run of a build action (each build of a batch) with its phases, reports and log file, and
 * build numbers per project.
 */
import type Database from 'better-sqlite3';
import { opt, type Row } from './database';

export const BUILDS_SCHEMA = `
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
  batch TEXT,
  PRIMARY KEY (execution_id, stage, action, build_id)
);
CREATE TABLE IF NOT EXISTS build_numbers (project TEXT PRIMARY KEY, last INTEGER NOT NULL);
`;

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
  /** Which build of its batch this is (`batchEnabled` actions run several builds). */
  batch?: { identifier: string; dependsOn: string[]; ignoreFailure: boolean };
}

export class BuildRecords {
  constructor(private readonly db: Database.Database) {}

  nextBuildNumber(project: string): number {
    return this.db.transaction(() => {
      this.db.prepare('INSERT INTO build_numbers (project, last) VALUES (?, 1) ON CONFLICT (project) DO UPDATE SET last = last + 1').run(project);
      return Number((this.db.prepare('SELECT last FROM build_numbers WHERE project = ?').get(project) as Row).last);
    })();
  }

  saveBuild(b: BuildRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO builds (execution_id, stage, action, build_id, status, log_file, phases, reports, started_at, ended_at, batch)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        b.batch ? JSON.stringify(b.batch) : null,
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
      ...(r.batch !== null && r.batch !== undefined && { batch: JSON.parse(String(r.batch)) }),
    }));
  }
}
