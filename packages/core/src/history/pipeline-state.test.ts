import { describe, expect, it } from 'vitest';
import { compilePipeline } from '../compiler/compile';
import { applyGateEvent, emptyGateState } from '../gates/gates';
import { parsePipelineText } from '../model/parse';
import { pipelineYaml } from '../testing';
import { type HistoryEvent, pipelineStateFrom, stageToRetry } from './pipeline-state';

const pipeline = parsePipelineText(
  pipelineYaml(
    'web',
    `  - name: Build
    actions: [{ name: Compile, kind: build, inputArtifacts: [Src] }]
  - name: Deploy
    actions: [{ name: Ship, kind: invoke, command: ./ship }]
`,
  ),
);
const { stateMap } = compilePipeline(pipeline);
let clock = 0;
const at = () => new Date(Date.UTC(2026, 10, 26, 0, 0, clock++)).toISOString();
const e = (type: HistoryEvent['type'], state: string, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({ type, state, at: at(), ...extra });

const throughBuildFailure: HistoryEvent[] = [
  e('entered', 'Source · enter stage'),
  e('exited', 'Source · enter stage'),
  e('entered', 'Source · Checkout'),
  e('exited', 'Source · Checkout'),
  e('entered', 'Build · enter stage'),
  e('exited', 'Build · enter stage'),
  e('entered', 'Build · Compile'),
  e('failed', 'Build · Compile'),
  e('entered', 'Build · Compile · failed', { error: 'Stepline.BuildFailed', cause: 'exit 2' }),
];

describe('pipelineStateFrom', () => {
  it('gives each stage and action its status, the failing one with its error', () => {
    const state = pipelineStateFrom({ pipeline, stateMap, execution: { executionId: 'e1', status: 'Failed', events: throughBuildFailure } });
    expect(state.stages.map((s) => [s.name, s.status, s.actions.map((a) => a.status)])).toStrictEqual([
      ['Source', 'Succeeded', ['Succeeded']],
      ['Build', 'Failed', ['Failed']],
      ['Deploy', undefined, [undefined]],
    ]);
    expect(state.stages[1]?.actions[0]?.error).toStrictEqual({ code: 'Stepline.BuildFailed', message: 'exit 2' });
    expect(stageToRetry(stateMap, throughBuildFailure)).toBe('Build');
  });

  it('shows a retried stage in progress again, without its old error', () => {
    const retrying = [...throughBuildFailure, e('entered', 'Build · enter stage'), e('exited', 'Build · enter stage'), e('entered', 'Build · Compile')];
    const state = pipelineStateFrom({ pipeline, stateMap, execution: { executionId: 'e1', status: 'InProgress', events: retrying } });
    expect(state.stages[1]).toMatchObject({ status: 'InProgress', actions: [{ status: 'InProgress' }] });
    expect(state.stages[1]?.actions[0]?.error).toBeUndefined();
  });

  it('shows a stage held at its entry, with the reason from the gate state, and a stopped run as abandoned', () => {
    const gates = applyGateEvent(applyGateEvent(emptyGateState(), { type: 'disable', stage: 'Deploy', reason: 'freeze', at: at() }), {
      type: 'enter',
      executionId: 'e2',
      stage: 'Deploy',
      token: 't',
      mode: 'PARALLEL',
      firstStage: false,
      at: '2026-11-26T01:00:00.000Z',
    });
    const held = [...throughBuildFailure.slice(0, 6), e('entered', 'Build · Compile'), e('exited', 'Build · Compile'), e('entered', 'Deploy · enter stage')];
    const state = pipelineStateFrom({ pipeline, stateMap, gates, execution: { executionId: 'e2', status: 'InProgress', events: held } });
    expect(state.stages[2]).toMatchObject({
      status: 'Waiting',
      inboundTransition: { enabled: false, reason: 'freeze' },
      held: { since: '2026-11-26T01:00:00.000Z', reason: 'transition disabled: freeze' },
    });
    const stopped = pipelineStateFrom({ pipeline, stateMap, execution: { executionId: 'e3', status: 'Stopped', events: throughBuildFailure.slice(0, 7) } });
    expect(stopped.stages[1]).toMatchObject({ status: 'Stopped', actions: [{ status: 'Abandoned' }] });
  });
});
