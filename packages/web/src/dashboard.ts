/**
 * The dashboard: each pipeline's stages and actions with their status (like the CodePipeline console's
 * pipeline view), and the recent executions. Server-rendered HTML with no script, refreshed by the
 * browser every few seconds; every value escaped (core's escapeHtml, as the approval pages). Core's
 * types and pure helpers only: the local server and the AWS installation render it from their own history.
 */
import { type ExecutionSummary, escapeHtml, type PipelineState } from '@stepline/core';

export interface DashboardView {
  title?: string;
  pipelines: PipelineState[];
  executions: ExecutionSummary[];
  /** Seconds between refreshes. @default 5 */
  refreshSeconds?: number;
  /** Builds the link to an execution's JSON, when there is one. */
  executionHref?: (executionId: string) => string;
}

const statusClass = (status: string | undefined) => `s-${(status ?? 'none').toLowerCase()}`;
const when = (iso: string | undefined) => (iso ? escapeHtml(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')) : '');

function pipelineCard(state: PipelineState): string {
  const stages = state.stages
    .map((stage) => {
      const transition = stage.inboundTransition.enabled ? '' : `<p class="held">transition disabled: ${escapeHtml(stage.inboundTransition.reason ?? '')}</p>`;
      const held = stage.held ? `<p class="held">waiting since ${when(stage.held.since)}: ${escapeHtml(stage.held.reason)}</p>` : '';
      const actions = stage.actions
        .map(
          (a) =>
            `<li class="${statusClass(a.status)}"><span class="name">${escapeHtml(a.name)}</span> <span class="kind">${escapeHtml(a.kind)}</span> <span class="status">${escapeHtml(a.status ?? '')}</span>${
              a.error ? `<div class="error">${escapeHtml(a.error.code)}: ${escapeHtml(a.error.message)}</div>` : ''
            }</li>`,
        )
        .join('');
      return `<section class="stage ${statusClass(stage.status)}"><h3>${escapeHtml(stage.name)} <small>${escapeHtml(stage.status ?? '')}</small></h3>${transition}${held}<ul>${actions}</ul></section>`;
    })
    .join('<span class="arrow">→</span>');
  const head = state.executionId
    ? `execution ${escapeHtml(state.executionId)} · <span class="${statusClass(state.status)}">${escapeHtml(state.status ?? '')}</span>`
    : 'no execution yet';
  return `<article><h2>${escapeHtml(state.pipeline)}</h2><p class="meta">${head}</p><div class="stages">${stages}</div></article>`;
}

function executionsTable(view: DashboardView): string {
  if (view.executions.length === 0) return '<p>No executions yet.</p>';
  const rows = view.executions
    .map((e) => {
      const id = view.executionHref ? `<a href="${escapeHtml(view.executionHref(e.executionId))}">${escapeHtml(e.executionId)}</a>` : escapeHtml(e.executionId);
      return `<tr><td>${id}</td><td>${escapeHtml(e.pipeline)}</td><td class="${statusClass(e.status)}">${escapeHtml(e.status)}</td><td>${when(e.startedAt)}</td><td>${when(e.endedAt)}</td><td>${escapeHtml(e.trigger ?? '')}</td><td><code>${escapeHtml((e.commitId ?? '').slice(0, 12))}</code></td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>Execution</th><th>Pipeline</th><th>Status</th><th>Started</th><th>Ended</th><th>Trigger</th><th>Commit</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderDashboard(view: DashboardView): string {
  const title = escapeHtml(view.title ?? 'stepline');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${view.refreshSeconds ?? 5}"><title>${title}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1b1f24}h2{margin:.2rem 0}.meta{color:#57606a;margin:.2rem 0 .8rem}
.stages{display:flex;flex-wrap:wrap;align-items:flex-start;gap:.5rem}.arrow{align-self:center;color:#8c959f}
.stage{border:1px solid #d0d7de;border-radius:6px;padding:.4rem .7rem;min-width:11rem}.stage h3{margin:.1rem 0 .4rem;font-size:1rem}
ul{list-style:none;margin:0;padding:0}li{padding:.15rem 0}.kind{color:#8c959f;font-size:.85em}.error{color:#cf222e;font-size:.85em}.held{color:#9a6700;font-size:.85em}
.s-succeeded{color:#1a7f37}.s-failed{color:#cf222e}.s-inprogress,.s-waiting{color:#9a6700}.s-stopped,.s-abandoned,.s-superseded{color:#57606a}
.stage.s-succeeded{border-color:#1a7f37}.stage.s-failed{border-color:#cf222e}.stage.s-inprogress{border-color:#d4a72c}
table{border-collapse:collapse;margin-top:.5rem}th,td{text-align:left;padding:.2rem .8rem .2rem 0;border-bottom:1px solid #eaeef2}article{margin-bottom:1.5rem}
</style></head>
<body><h1>${title}</h1>
${view.pipelines.map(pipelineCard).join('\n')}
<h2>Recent executions</h2>
${executionsTable(view)}
</body></html>`;
}
