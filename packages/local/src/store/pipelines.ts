/**
 * The pipelines this machine has run, and the file each was defined in.
 */
import type Database from 'better-sqlite3';
import type { Row } from './database';

export const PIPELINES_SCHEMA = `
CREATE TABLE IF NOT EXISTS pipelines (name TEXT PRIMARY KEY, file TEXT NOT NULL, updated_at TEXT NOT NULL);
`;

export class PipelineRecords {
  constructor(private readonly db: Database.Database) {}

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
