import type { PipelineState } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import type { ExecutionData } from './model';
import { executionPage, pipelinesPage, renderPage } from './pages';

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
const ctx = { where: 'this machine', now: Date.parse('2026-11-26T00:01:00.000Z'), csrf: 'tok"en' };

describe('console pages', () => {
  it('shows every stage and action with its status, why a stage is held, and escapes everything', () => {
    const summary = { executionId: 'e1', pipeline: 'web <app>', status: 'InProgress' as const, startedAt: '2026-11-26T00:00:00.000Z' };
    const html = renderPage(pipelinesPage({ pipelines: [{ name: 'web <app>', state, latest: summary }], recent: [summary] }, ctx), ctx);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<title>Pipelines · stepline</title>');
    expect(html).toContain('<a href="/pipelines/web%20%3Capp%3E">web &lt;app&gt;</a>');
    expect(html).not.toContain('<app>');
    // No inline script or style: the Content-Security-Policy allows neither.
    expect(html).not.toMatch(/<script>|<style|style="/);
  });

  it('renders an execution with its failure, a disabled transition, and empty sections a live update can fill', () => {
    const data: ExecutionData = {
      detail: {
        executionId: 'e1',
        pipeline: 'web <app>',
        status: 'Failed',
        startedAt: '2026-11-26T00:00:00.000Z',
        endedAt: '2026-11-26T00:00:30.000Z',
        error: 'Stepline.BuildFailed',
        cause: 'exit <2>',
        state: { ...state, status: 'Failed' },
        builds: {},
        approvals: [],
        artifacts: [],
        variables: { ENV: '<prod>' },
      },
      timeline: [{ stage: 'Build', action: 'Unit', kind: 'test', start: '2026-11-26T00:00:01.000Z', end: '2026-11-26T00:00:20.000Z', failed: true }],
      traffic: [],
      builds: [],
      approvals: [],
      artifacts: [],
      retryStage: 'Build',
    };
    const page = executionPage(data, ctx);
    expect(page.sections.map((s) => s.id)).toStrictEqual(['head', 'graph', 'timeline', 'approvals', 'deploy', 'builds', 'more']);
    const html = renderPage(page, ctx);
    expect(html).toContain('Stepline.BuildFailed: exit &lt;2&gt;');
    expect(html).toContain('Retry stage Build');
    expect(html).toContain('value="tok&quot;en"');
    expect(html).toContain('disabled: freeze');
    expect(html).toContain('<div data-section="approvals" hidden></div>');
    expect(html).toContain('&lt;prod&gt;');
    expect(html).toContain('data-action="Build · Unit"');
  });
});
