/**
 * Stage conditions let through by hand (override-stage-condition): one row per evaluation of an
 * execution's condition, written once, so that the condition evaluated again (a retried stage) runs
 * its rules again. The conditions handler reads it at each check; see core's conditions/override.ts
 * and conditions/evaluation.ts. (The older `condition_overrides` table, one row per execution, is no
 * longer read.)
 */
import type { ConditionKind, ConditionOverride } from '@stepline/core';
import type Database from 'better-sqlite3';
import type { Row } from './database';

export const CONDITION_OVERRIDES_SCHEMA = `
CREATE TABLE IF NOT EXISTS condition_evaluation_overrides (
  execution_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  condition TEXT NOT NULL,
  evaluation TEXT NOT NULL,
  overridden_by TEXT NOT NULL,
  overridden_at TEXT NOT NULL,
  PRIMARY KEY (execution_id, stage, condition, evaluation)
);
`;

/** Which evaluation of which condition: `evaluation` is core's `conditionEvaluation` (undefined only for a check that names none). */
export interface OverriddenCondition {
  executionId: string;
  stage: string;
  condition: ConditionKind;
  evaluation: string | undefined;
}

export class ConditionOverrideRecords {
  constructor(private readonly db: Database.Database) {}

  /** Records an override; false when that evaluation was overridden already (the first one stands). */
  overrideCondition(at: OverriddenCondition, override: ConditionOverride): boolean {
    const inserted = this.db
      .prepare(
        'INSERT OR IGNORE INTO condition_evaluation_overrides (execution_id, stage, condition, evaluation, overridden_by, overridden_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(at.executionId, at.stage, at.condition, at.evaluation ?? '', override.by, override.at);
    return inserted.changes === 1;
  }

  conditionOverride(at: OverriddenCondition): ConditionOverride | undefined {
    const row = this.db
      .prepare(
        'SELECT overridden_by, overridden_at FROM condition_evaluation_overrides WHERE execution_id = ? AND stage = ? AND condition = ? AND evaluation = ?',
      )
      .get(at.executionId, at.stage, at.condition, at.evaluation ?? '') as Row | undefined;
    return row ? { by: String(row.overridden_by), at: String(row.overridden_at) } : undefined;
  }
}
