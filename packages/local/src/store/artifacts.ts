/**
 * Artifacts: where each execution's artifacts are on disk, and how many files each holds.
 */
import type Database from 'better-sqlite3';
import type { Row } from './database';

export const ARTIFACTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS artifacts (
  execution_id TEXT NOT NULL,
  name TEXT NOT NULL,
  dir TEXT NOT NULL,
  files INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (execution_id, name)
);
`;

export class ArtifactRecords {
  constructor(private readonly db: Database.Database) {}

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
}
