/**
 * Stage conditions let through by hand (override-stage-condition): one row per execution, stage and
 * condition, written once. The conditions handler reads it at each check; see core's conditions/override.ts.
 */
import type { ConditionKind, ConditionOverride } from '@stepline/core';
import type Database from 'better-sqlite3';
import type { Row } from './database';

export const CONDITION_OVERRIDES_SCHEMA = `
CREATE TABLE IF NOT EXISTS condition_overrides (
  execution_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  condition TEXT NOT NULL,
  overridden_by TEXT NOT NULL,
  overridden_at TEXT NOT NULL,
  PRIMARY KEY (execution_id, stage, condition)
);
`;

export class ConditionOverrideRecords {
  constructor(private readonly db: Database.Database) {}

  /** Records an override; false when the condition was overridden already (the first one stands). */
  overrideCondition(executionId: string, stage: string, condition: ConditionKind, override: ConditionOverride): boolean {
    const inserted = this.db
      .prepare('INSERT OR IGNORE INTO condition_overrides (execution_id, stage, condition, overridden_by, overridden_at) VALUES (?, ?, ?, ?, ?)')
      .run(executionId, stage, condition, override.by, override.at);
    return inserted.changes === 1;
  }

  conditionOverride(executionId: string, stage: string, condition: ConditionKind): ConditionOverride | undefined {
    const row = this.db
      .prepare('SELECT overridden_by, overridden_at FROM condition_overrides WHERE execution_id = ? AND stage = ? AND condition = ?')
      .get(executionId, stage, condition) as Row | undefined;
    return row ? { by: String(row.overridden_by), at: String(row.overridden_at) } : undefined;
  }
}
