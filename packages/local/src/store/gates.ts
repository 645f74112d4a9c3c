/**
 * Each pipeline's gate state (disabled transitions, held executions, answers owed), changed atomically.
 */
import { applyGateEvent, type ExecutionMode, emptyGateState, type GateEffect, type GateEvent, type GateState } from '@stepline/core';
import type Database from 'better-sqlite3';
import type { Row } from './database';

export const GATES_SCHEMA = `
CREATE TABLE IF NOT EXISTS gates (pipeline TEXT PRIMARY KEY, state TEXT NOT NULL);
`;

export class GateRecords {
  constructor(private readonly db: Database.Database) {}

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
}
