import { describe, expect, it } from 'vitest';
import { compilePipeline } from '../compiler/compile';
import { parsePipelineText } from '../model/parse';
import { pipelineYaml } from '../testing';
import type { HistoryEvent } from './pipeline-state';
import { actionTimeline, trafficFrom } from './timeline';

const pipeline = parsePipelineText(
  pipelineYaml(
    'web',
    `  - name: Deploy
    actions:
      - name: Canary
        kind: deploy
        inputArtifacts: [Src]
        strategy: { steps: [{ setWeight: 20 }, { pause: { minutes: 0.05 } }] }
        checkIntervalSeconds: 3
        local: { command: node server.js, port: 18000 }
`,
  ),
);
const { stateMap } = compilePipeline(pipeline);
let clock = 0;
const at = () => new Date(Date.UTC(2026, 11, 1, 0, 0, clock++)).toISOString();
const ev = (type: HistoryEvent['type'], state: string): HistoryEvent => ({ type, state, at: at() });
const step = (name: string, outcome: 'exited' | 'failed' = 'exited') => [
  ev('entered', 'Deploy · Canary · next step'),
  ev('exited', 'Deploy · Canary · next step'),
  ev('entered', `Deploy · Canary · ${name}`),
  ev(outcome, `Deploy · Canary · ${name}`),
];

describe('actionTimeline and trafficFrom', () => {
  it('gives each action its span, and the deploy its weights, alarm checks and rollback in the order the plan ran', () => {
    clock = 0;
    // The plan: prepare, setWeight 20, wait + checkAlarms, setWeight 100 (added), finalize.
    const events = [
      ev('entered', 'Source · Checkout'),
      ev('exited', 'Source · Checkout'),
      ev('entered', 'Deploy · Canary · plan'),
      ev('exited', 'Deploy · Canary · plan'),
      ev('entered', 'Deploy · Canary'),
      ...step('run step'),
      ...step('run step'),
      ...step('bake'),
      ...step('run step', 'failed'),
      ev('failed', 'Deploy · Canary'),
      ev('entered', 'Deploy · Canary · rollback'),
      ev('exited', 'Deploy · Canary · rollback'),
      ev('entered', 'Deploy · Canary · rolled back'),
    ];
    expect(actionTimeline(stateMap, events)).toStrictEqual([
      { stage: 'Source', action: 'Checkout', kind: 'source', start: events[0]?.at, end: events[1]?.at },
      { stage: 'Deploy', action: 'Canary', kind: 'deploy', start: events[4]?.at, end: events.at(-1)?.at, failed: true },
    ]);
    const [series] = trafficFrom(pipeline, stateMap, events);
    const weightSet = events[12]?.at;
    const checkFailed = events[20]?.at;
    const rollback = events[22]?.at;
    expect(series).toStrictEqual({
      stage: 'Deploy',
      action: 'Canary',
      start: events[4]?.at,
      end: events[23]?.at,
      points: [
        { at: events[4]?.at, weight: 0 },
        { at: weightSet, weight: 20 },
        { at: rollback, weight: 0 },
      ],
      planned: [20, 100],
      checks: [{ at: checkFailed, ok: false }],
      rollback: { at: rollback },
    });
  });

  it('puts all traffic on green at the first weight of an initial deployment', () => {
    clock = 0;
    const events = [ev('entered', 'Deploy · Canary'), ...step('run step'), ...step('run step')];
    const [series] = trafficFrom(pipeline, stateMap, events, { initial: () => true });
    expect(series?.points.map((p) => p.weight)).toStrictEqual([0, 100]);
    expect(series?.initial).toBe(true);
  });
});
