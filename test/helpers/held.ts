/** What `get-pipeline-state` shows while a disabled Deploy transition holds a Source → Build → Deploy execution. */
import type { PipelineState } from '@stepline/core';
import { expect } from 'vitest';

export function expectHeldAtDeploy(state: PipelineState, reason: string): void {
  expect(state.stages.map((s) => [s.name, s.status])).toStrictEqual([
    ['Source', 'Succeeded'],
    ['Build', 'Succeeded'],
    ['Deploy', 'Waiting'],
  ]);
  expect(state.stages[2]).toMatchObject({ inboundTransition: { enabled: false, reason }, held: { reason: `transition disabled: ${reason}` } });
}
