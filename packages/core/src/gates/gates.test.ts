import { describe, expect, it } from 'vitest';
import type { ExecutionMode } from '../model/schema';
import { applyGateEvent, emptyGateState, type GateEvent, type GateState, heldExecutions } from './gates';

const at = '2026-11-26T00:00:00Z';

/** Applies events in order and returns the final state; `delivered` is sent after each step, as a runtime does. */
type Step = { executionId: string; stage: string } | GateEvent | string;

/** `'a Build'`: execution a arrives at Build's entry; `'finish a'`: execution a ends. */
function stepOf(step: Step): Exclude<Step, string> {
  if (typeof step !== 'string') return step;
  const [first = '', second = ''] = step.split(' ');
  return first === 'finish' ? { type: 'finish', executionId: second } : { executionId: first, stage: second };
}

function run(mode: ExecutionMode, events: Step[]) {
  let state: GateState = emptyGateState();
  const answered: string[] = [];
  for (const step of events) {
    const raw = stepOf(step);
    const event: GateEvent =
      'type' in raw
        ? raw
        : {
            type: 'enter',
            mode,
            at,
            token: `${raw.executionId}@${raw.stage}`,
            firstStage: raw.stage === 'Source',
            executionId: raw.executionId,
            stage: raw.stage,
          };
    state = applyGateEvent(state, event, mode);
    for (const e of state.pending) answered.push(`${e.type} ${e.executionId} ${e.stage}`);
    state = applyGateEvent(state, { type: 'delivered', effects: state.pending });
  }
  return { state, answered };
}

describe('gates', () => {
  it('PARALLEL lets every execution through at once', () => {
    const { answered } = run('PARALLEL', ['a Source', 'b Source', 'a Build']);
    expect(answered).toStrictEqual(['proceed a Source', 'proceed b Source', 'proceed a Build']);
  });

  it('QUEUED runs one execution at a time, in arrival order', () => {
    const { answered, state } = run('QUEUED', ['a Source', 'b Source', 'c Source', 'a Build', 'finish a', 'finish b']);
    expect(answered).toStrictEqual(['proceed a Source', 'proceed a Build', 'proceed b Source', 'proceed c Source']);
    expect(state.running).toStrictEqual(['c']);
  });

  it('QUEUED gives a retried execution the running slot only when it is free', () => {
    const { answered } = run('QUEUED', ['b Source', 'a-retry Deploy', 'finish b']);
    expect(answered).toStrictEqual(['proceed b Source', 'proceed a-retry Deploy']);
  });

  it('SUPERSEDED replaces an older execution waiting at a stage entry with the newer one', () => {
    const { answered, state } = run('SUPERSEDED', ['a Source', 'a Build', 'b Source', 'b Build', 'c Source', 'c Build', 'a Deploy']);
    expect(answered).toStrictEqual([
      'proceed a Source',
      'proceed a Build',
      'proceed b Source',
      'proceed c Source',
      'supersede b Build',
      'proceed c Build',
      'proceed a Deploy',
    ]);
    expect(state.occupant).toStrictEqual({ Build: 'c', Deploy: 'a' });
    expect(state.finished).toContain('b');
  });

  it('a disabled transition holds executions at the stage entry until it is enabled', () => {
    const { answered, state } = run('PARALLEL', [{ type: 'disable', stage: 'Deploy', reason: 'maintenance window', at }, 'a Source', 'a Deploy']);
    expect(answered).toStrictEqual(['proceed a Source']);
    expect(heldExecutions(state)).toStrictEqual([{ stage: 'Deploy', executionId: 'a', since: at, reason: 'transition disabled: maintenance window' }]);
    const released = applyGateEvent(state, { type: 'enable', stage: 'Deploy' }, 'PARALLEL');
    expect(released.pending.map((e) => `${e.type} ${e.executionId} ${e.stage}`)).toStrictEqual(['proceed a Deploy']);
    expect(heldExecutions(released)).toStrictEqual([]);
  });

  it('answers a repeated enter again, ignores a repeated finish, and lets a redriven execution back in', () => {
    let state = applyGateEvent(emptyGateState(), { type: 'enter', executionId: 'a', stage: 'Build', token: 't1', mode: 'SUPERSEDED', firstStage: false, at });
    state = applyGateEvent(state, { type: 'delivered', effects: state.pending });
    state = applyGateEvent(state, { type: 'enter', executionId: 'a', stage: 'Build', token: 't1', mode: 'SUPERSEDED', firstStage: false, at });
    expect(state.pending).toStrictEqual([{ type: 'proceed', executionId: 'a', stage: 'Build', token: 't1' }]);
    state = applyGateEvent(state, { type: 'delivered', effects: state.pending });
    state = applyGateEvent(state, { type: 'finish', executionId: 'a' });
    const finished = applyGateEvent(state, { type: 'finish', executionId: 'a' });
    expect(finished).toStrictEqual(state);
    state = applyGateEvent(state, { type: 'enter', executionId: 'a', stage: 'Deploy', token: 't2', mode: 'SUPERSEDED', firstStage: false, at });
    expect(state.occupant).toStrictEqual({ Deploy: 'a' });
    expect(state.finished).toStrictEqual([]);
    expect(state.pending).toStrictEqual([{ type: 'proceed', executionId: 'a', stage: 'Deploy', token: 't2' }]);
  });

  it('keeps owed answers until they are delivered', () => {
    const state = applyGateEvent(emptyGateState(), { type: 'enter', executionId: 'a', stage: 'Source', token: 't', mode: 'PARALLEL', firstStage: true, at });
    const again = applyGateEvent(state, { type: 'enter', executionId: 'b', stage: 'Source', token: 'u', mode: 'PARALLEL', firstStage: true, at });
    expect(again.pending.map((e) => e.executionId)).toStrictEqual(['a', 'b']);
    expect(applyGateEvent(again, { type: 'delivered', effects: [again.pending[0] as never] }).pending.map((e) => e.executionId)).toStrictEqual(['b']);
  });
});
