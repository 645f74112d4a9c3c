/**
 * The history's SQLite database: opened with the settings several processes need to share it, each
 * concern's tables created, and columns added since a database was first written.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Row = Record<string, unknown>;
export const opt = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (v as T));

/** Columns added after a table was first created: a database written by an older stepline gains them. */
const ADDED_COLUMNS: Array<{ table: string; column: string; type: string }> = [
  { table: 'executions', column: 'machine', type: 'TEXT' },
  { table: 'builds', column: 'batch', type: 'TEXT' },
  { table: 'events', column: 'check_result', type: 'TEXT' },
];

function migrate(db: Database.Database): void {
  for (const { table, column, type } of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Row[];
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

/** Opens (and creates) the history at `file`, with the tables each concern declares. */
export function openHistory(file: string, schemas: readonly string[]): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // In WAL mode NORMAL keeps the database consistent through a crash, without an fsync per event.
  db.pragma('synchronous = NORMAL');
  // Other processes (an `approve` in another terminal) write too: wait for them rather than fail.
  db.pragma('busy_timeout = 5000');
  for (const schema of schemas) db.exec(schema);
  migrate(db);
  return db;
}
