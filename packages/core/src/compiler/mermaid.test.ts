import { describe, expect, it } from 'vitest';
import { parsePipelineText } from '../model/parse';
import { SOURCE_STAGE } from '../testing';
import { pipelineToMermaid } from './mermaid';

describe('pipelineToMermaid', () => {
  it('draws stage conditions: entry before the actions, SKIP past the stage, retry back to its start, rollback', () => {
    const pipeline = parsePipelineText(`
name: web
variables: [{ name: ENV, default: staging }]
stages:
${SOURCE_STAGE}
  - name: Test
    onFailure: { result: RETRY, retryMode: ALL_ACTIONS }
    actions: [{ name: Unit, kind: test, inputArtifacts: [Src] }]
  - name: Deploy
    beforeEntry: { result: SKIP, rules: [{ name: OnlyProd, provider: VariableCheck, variable: "#{variables.ENV}", operator: EQ, value: prod }] }
    onSuccess: { result: ROLLBACK, rules: [{ name: Errors, provider: CloudWatchAlarm, alarmName: web-5xx }] }
    onFailure: { result: ROLLBACK }
    actions: [{ name: Ship, kind: invoke, function: ship }]
  - name: Announce
    actions: [{ name: Tell, kind: invoke, function: tell }]
`);
    expect(pipelineToMermaid(pipeline)).toBe(
      [
        'flowchart LR',
        '  subgraph stage_0["Source"]',
        '    direction LR',
        '    a_0_0["Checkout\n(source)"]',
        '  end',
        '  subgraph stage_1["Test"]',
        '    direction LR',
        '    a_1_0["Unit\n(test)"]',
        '    failure_1{{"onFailure: RETRY once (ALL_ACTIONS)"}}',
        '    a_1_0 -. fails .-> failure_1',
        '    failure_1 -. retry .-> a_1_0',
        '  end',
        '  a_0_0 --> a_1_0',
        '  subgraph stage_2["Deploy"]',
        '    direction LR',
        '    a_2_0["Ship\n(invoke)"]',
        '    entry_2{{"beforeEntry: SKIP if not met\nOnlyProd (VariableCheck)"}}',
        '    entry_2 --> a_2_0',
        '    success_2{{"onSuccess: ROLLBACK if not met\nErrors (CloudWatchAlarm)"}}',
        '    a_2_0 --> success_2',
        '    failure_2{{"onFailure: ROLLBACK to the last good execution"}}',
        '    a_2_0 -. fails .-> failure_2',
        '  end',
        '  a_1_0 --> entry_2',
        '  subgraph stage_3["Announce"]',
        '    direction LR',
        '    a_3_0["Tell\n(invoke)"]',
        '  end',
        '  success_2 --> a_3_0',
        '  entry_2 -. SKIP .-> a_3_0',
        '',
      ].join('\n'),
    );
  });
});
