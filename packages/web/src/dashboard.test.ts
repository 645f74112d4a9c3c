import type { PipelineState } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { renderDashboard } from './dashboard';

const state: PipelineState = {
  pipeline: 'web <app>',
  executionId: 'e1',
  status: 'InProgress',
  stages: [
    {
      name: 'Build',
      status: 'Failed',
      inboundTransition: { enabled: true },
      actions: [{ name: 'Unit', kind: 'test', status: 'Failed', error: { code: 'Stepline.BuildFailed', message: '3 tests <failed>' } }],
    },
    {
      name: 'Deploy',
      status: 'Waiting',
      inboundTransition: { enabled: false, reason: 'freeze' },
      held: { since: '2026-11-26T00:00:00.000Z', reason: 'transition disabled: freeze' },
      actions: [{ name: 'Canary', kind: 'deploy' }],
    },
  ],
};

describe('renderDashboard', () => {
  it('shows every stage and action with its status, why a stage is held, and escapes everything', () => {
    const html = renderDashboard({
      pipelines: [state],
      executions: [{ executionId: 'e1', pipeline: 'web <app>', status: 'InProgress', startedAt: '2026-11-26T00:00:00.000Z' }],
      executionHref: (id) => `/api/executions/${id}`,
    });
    expect(html).toContain('<h2>web &lt;app&gt;</h2>');
    expect(html).toContain('Stepline.BuildFailed: 3 tests &lt;failed&gt;');
    expect(html).toContain('transition disabled: freeze');
    expect(html).toContain('<a href="/api/executions/e1">e1</a>');
    expect(html).not.toContain('<app>');
    expect(html).not.toMatch(/<script/i);
  });
});
