/**
 * The console's pages: the pipelines, one pipeline, one execution. Each page is a list of sections
 * (each an element with `data-section`), so the server can send a section again when what it shows
 * changes and the page updates in place. Server-rendered HTML, every value escaped, no inline script
 * or style (the server's Content-Security-Policy forbids both).
 */
import type { ExecutionSummary } from '@stepline/core';
import { timelineChart, trafficChart } from './charts';
import { between, csrfField, duration, e, href, label, pill, shortCommit, tone, when } from './html';
import type { ApprovalView, ArtifactView, BuildView, ExecutionData, PipelineData, PipelinesData } from './model';
import { executionEnded, stageGraph } from './stage-graph';
import { CONSOLE_VERSION } from './version';

export interface Section {
  id: string;
  html: string;
}

export interface Page {
  title: string;
  crumbs: Array<{ label: string; href?: string }>;
  sections: Section[];
}

export interface RenderContext {
  /** Where the history comes from, for the header. */
  where: string;
  /** The CSRF token for forms; absent when the console only reads. */
  csrf?: string;
  now: number;
  /** Filled into the approver field. */
  approver?: string;
  /** The server-sent events URL that keeps this page live. */
  stream?: string;
  /** A message after an action (from the redirect). */
  notice?: { kind: 'ok' | 'bad'; text: string };
}

const section = (id: string, html: string, tag = 'section', attrs = '') => ({ id, html: `<${tag} data-section="${id}"${attrs}>${html}</${tag}>` });
const panel = (id: string, heading: string, body: string, extra = '') =>
  section(id, `<header><h2 id="h-${id}">${heading}</h2>${extra}</header>${body}`, 'section', ` class="panel" aria-labelledby="h-${id}"`);

export function renderPage(page: Page, ctx: RenderContext): string {
  const crumbs = [{ label: 'Pipelines', href: href.home() }, ...page.crumbs]
    .map((c, i, all) =>
      c.href && i < all.length - 1 ? `<li><a href="${e(c.href)}">${e(c.label)}</a></li>` : `<li><span aria-current="page">${e(c.label)}</span></li>`,
    )
    .join('');
  const notice = ctx.notice ? `<p class="notice ${ctx.notice.kind}" role="${ctx.notice.kind === 'bad' ? 'alert' : 'status'}">${e(ctx.notice.text)}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(page.title)} · stepline</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/console.css?v=${CONSOLE_VERSION}"><script src="/assets/console.js?v=${CONSOLE_VERSION}" defer></script></head>
<body${ctx.stream ? ` data-stream="${e(ctx.stream)}"` : ''}><a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/">stepline</a><span class="where">${e(ctx.where)}</span><nav aria-label="Breadcrumb"><ol>${crumbs}</ol></nav>${ctx.stream ? '<span class="live" data-state="off">Connecting…</span>' : ''}</header>
<div id="announce" class="sr" aria-live="polite"></div>
<main id="main">${notice}${page.sections.map((s) => s.html).join('\n')}</main>
</body></html>`;
}

function executionRows(list: readonly ExecutionSummary[], now: number, showPipeline: boolean): string {
  if (list.length === 0) return '<p class="empty">No executions yet.</p>';
  const rows = list
    .map(
      (x) =>
        `<tr data-execution="${e(x.executionId)}"><td>${pill(x.status)}</td><td><a href="${e(href.execution(x.executionId))}" class="mono">${e(x.executionId)}</a></td>${
          showPipeline ? `<td><a href="${e(href.pipeline(x.pipeline))}">${e(x.pipeline)}</a></td>` : ''
        }<td>${shortCommit(x.commitId)}${x.branch ? ` <span class="kind">${e(x.branch)}</span>` : ''}</td><td>${e(x.trigger ?? '')}</td><td>${when(x.startedAt)}</td><td class="num">${e(duration(between(x.startedAt, x.endedAt, now)))}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th scope="col">Status</th><th scope="col">Execution</th>${showPipeline ? '<th scope="col">Pipeline</th>' : ''}<th scope="col">Commit</th><th scope="col">Trigger</th><th scope="col">Started</th><th scope="col" class="num">Duration</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function pipelinesPage(data: PipelinesData, ctx: RenderContext): Page {
  const cards =
    data.pipelines.length === 0
      ? '<p class="empty">No pipelines yet: run one (stepline run) or serve one (stepline serve --pipeline stepline.yml).</p>'
      : `<ul class="cards">${data.pipelines
          .map((p) => {
            const strip = p.state.stages.map((s) => `<li class="t-${tone(s.status)}" title="${e(s.name)}: ${e(label(s.status))}"></li>`).join('');
            const names = p.state.stages.map((s) => `<span>${e(s.name)}</span>`).join('');
            const latest = p.latest
              ? `<div class="meta"><span>Last run <a href="${e(href.execution(p.latest.executionId))}" class="mono">${e(p.latest.executionId)}</a></span><span>${when(p.latest.startedAt)}</span>${shortCommit(p.latest.commitId)}</div>`
              : '<div class="meta"><span>Never run</span></div>';
            return `<li class="card" data-pipeline="${e(p.name)}"><h2><a href="${e(href.pipeline(p.name))}">${e(p.name)}</a>${pill(p.latest?.status)}</h2><ol class="strip" aria-label="Stages: ${e(
              p.state.stages.map((s) => `${s.name} ${label(s.status)}`).join(', '),
            )}">${strip}</ol><div class="strip-labels" aria-hidden="true">${names}</div>${latest}</li>`;
          })
          .join('')}</ul>`;
  return {
    title: 'Pipelines',
    crumbs: [],
    sections: [section('cards', `<h1>Pipelines</h1>${cards}`, 'div'), panel('recent', 'Recent executions', executionRows(data.recent, ctx.now, true))],
  };
}

function startForm(p: PipelineData, csrf: string): string {
  const vars = p.variables
    .map(
      (v, i) =>
        `<div class="field"><label for="var-${i}">${e(v.name)}</label><input type="text" id="var-${i}" name="var:${e(v.name)}" value="${e(v.default ?? '')}"${v.description ? ` aria-describedby="var-${i}-d"` : ''}>${
          v.description ? `<p class="hint" id="var-${i}-d">${e(v.description)}</p>` : ''
        }</div>`,
    )
    .join('');
  return `<details class="start"><summary class="btn primary">Start execution</summary><form method="post" action="${href.action('start')}" class="panel">${csrfField(csrf)}<input type="hidden" name="pipeline" value="${e(p.name)}">${
    vars || '<p class="hint">This pipeline declares no variables.</p>'
  }<button type="submit" class="primary">Start</button></form></details>`;
}

export function pipelinePage(p: PipelineData, ctx: RenderContext): Page {
  const ended = executionEnded(p.state.status);
  const meta = [
    p.executionMode ? `<span>Mode ${e(p.executionMode)}</span>` : '',
    p.location ? `<span>Defined in <code>${e(p.location)}</code></span>` : '',
    p.description ? `<span>${e(p.description)}</span>` : '',
  ].join('');
  const showing = p.state.executionId
    ? `<p class="hint">Showing execution <a href="${e(href.execution(p.state.executionId))}" class="mono">${e(p.state.executionId)}</a>${p.latest ? `, started ${when(p.latest.startedAt)}` : ''}</p>`
    : '<p class="hint">This pipeline has not run yet.</p>';
  const count =
    p.executionCount !== undefined && p.executionCount > p.executions.length
      ? ` <span class="kind">(newest ${p.executions.length} of ${p.executionCount})</span>`
      : '';
  return {
    title: p.name,
    crumbs: [{ label: p.name }],
    sections: [
      section('head', `<h1>${e(p.name)} ${pill(p.state.status)}</h1><p class="sub">${meta}</p>`, 'div'),
      ...(ctx.csrf !== undefined ? [section('start', startForm(p, ctx.csrf), 'div', ' class="actions"')] : []),
      panel(
        'graph',
        'Stages',
        `${showing}${stageGraph(p.state, { ...(ctx.csrf !== undefined && { csrf: ctx.csrf }), ...(p.latest?.commitId && { commitId: p.latest.commitId }), ended })}`,
      ),
      panel('history', `Execution history${count}`, executionRows(p.executions, ctx.now, false)),
    ],
  };
}

function phaseBar(b: BuildView): string {
  const total = b.phases.reduce((sum, p) => sum + (p.durationMs ?? 0), 0);
  if (b.phases.length === 0 || total <= 0) return '';
  let x = 0;
  const rects = b.phases
    .map((p) => {
      const w = ((p.durationMs ?? 0) / total) * 100;
      const r = `<rect class="bar-${tone(p.status)}" x="${x.toFixed(2)}" y="0" width="${Math.max(w, 0.4).toFixed(2)}" height="10"><title>${e(p.name)}: ${e(duration(p.durationMs))}</title></rect>`;
      x += w;
      return r;
    })
    .join('');
  return `<svg class="chart phasebar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="Phase durations"><title>Phase durations</title>${rects}</svg>`;
}

function testReports(b: BuildView): string {
  return b.reports
    .map((r) => {
      const total = r.passed + r.failed + r.skipped || 1;
      const seg = (n: number, cls: string) => (n > 0 ? `<rect class="${cls}" x="0" width="${((n / total) * 100).toFixed(2)}" height="8"/>` : '');
      let x = 0;
      const bar = [
        [r.passed, 'bar-ok'],
        [r.failed, 'bar-bad'],
        [r.skipped, 'bar-off'],
      ]
        .map(([n, cls]) => {
          const s = seg(n as number, cls as string).replace('x="0"', `x="${x.toFixed(2)}"`);
          x += ((n as number) / total) * 100;
          return s;
        })
        .join('');
      const failures = (r.failures ?? [])
        .map((f) => `<li><strong>${e(f.suite ? `${f.suite} › ` : '')}${e(f.name)}</strong>${f.message ? `<span class="msg">${e(f.message)}</span>` : ''}</li>`)
        .join('');
      return `<div class="report" data-report="${e(r.name)}"><div class="tests"><strong>Tests: ${e(r.name)}</strong><span class="t-ok pill">${r.passed} passed</span><span class="pill ${r.failed ? 't-bad' : 't-none'}">${r.failed} failed</span><span class="pill t-none">${r.skipped} skipped</span><svg class="chart testbar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">${bar}</svg></div>${
        failures ? `<ul class="failures" aria-label="Failed tests">${failures}</ul>` : ''
      }</div>`;
    })
    .join('');
}

function buildCard(b: BuildView, i: number, now: number): string {
  const running = b.status === 'IN_PROGRESS';
  const open = running || b.status === 'FAILED';
  const phases = b.phases.length
    ? `<table><caption class="sr">Phases of ${e(b.stage)} · ${e(b.action)}</caption><thead><tr><th scope="col">Phase</th><th scope="col">Status</th><th scope="col" class="num">Duration</th></tr></thead><tbody>${b.phases
        .map((p) => `<tr><td>${e(p.name)}</td><td>${pill(p.status)}</td><td class="num">${e(duration(p.durationMs))}</td></tr>`)
        .join('')}</tbody></table>`
    : running
      ? '<p class="hint">Phases are listed when the build ends; its log streams below.</p>'
      : '';
  const key = `${b.stage}.${b.action}`;
  const log = b.log
    ? `<pre class="log" data-log="${e(key)}" data-offset="${b.log.size}" tabindex="0" aria-label="Log of ${e(b.stage)} · ${e(b.action)}">${b.log.truncated ? '… earlier lines left out …\n' : ''}${e(b.log.text)}</pre>`
    : b.logLocation
      ? `<p class="hint">Log: <code>${e(b.logLocation)}</code></p>`
      : '';
  return `<details class="build" id="build-${i}" data-build="${e(key)}"${open ? ' open' : ''}><summary><span>${e(b.stage)} · ${e(b.action)}</span>${pill(b.status)}<span class="kind">${e(
    duration(between(b.startedAt, b.endedAt, now)),
  )}</span>${b.buildId ? `<code class="kind">${e(b.buildId)}</code>` : ''}</summary>${phaseBar(b)}${phases}${testReports(b)}${log}</details>`;
}

function approvalCard(a: ApprovalView, executionId: string, ctx: RenderContext, i: number): string {
  const question = a.customData ? `<blockquote>${e(a.customData)}</blockquote>` : '';
  const head = `<header><h3>${e(a.stage)} · ${e(a.action)}</h3> ${pill(a.status)}</header>`;
  if (a.status === 'Pending') {
    const form =
      ctx.csrf === undefined
        ? '<p class="hint">Decide it with <code>stepline approve</code> or its link.</p>'
        : `<form method="post" action="${href.action('decide')}">${csrfField(ctx.csrf)}<input type="hidden" name="execution" value="${e(executionId)}"><input type="hidden" name="stage" value="${e(a.stage)}"><div class="field"><label for="who-${i}">Your ${a.emailDomains?.length ? 'e-mail' : 'name or e-mail'}</label><input type="${a.emailDomains?.length ? 'email' : 'text'}" id="who-${i}" name="who" value="${e(ctx.approver ?? '')}"${a.emailDomains?.length ? ' required' : ''}>${
            a.emailDomains?.length ? `<p class="hint">Only ${e(a.emailDomains.join(', '))} may decide.</p>` : ''
          }</div><div class="field"><label for="comment-${i}">Comment</label><textarea id="comment-${i}" name="comment" maxlength="1000"></textarea></div><div class="actions"><button type="submit" name="decision" value="approve" class="primary">Approve</button><button type="submit" name="decision" value="reject" class="danger">Reject</button></div></form>`;
    return `<div class="approval t-wait" data-approval="${e(a.stage)}">${head}${question}<p class="hint">Waiting since ${when(a.requestedAt)}${a.expiresAt ? `; expires ${when(a.expiresAt)}` : ''}</p>${form}</div>`;
  }
  const who = a.decidedBy ? `${a.status} by <strong>${e(a.decidedBy)}</strong>` : e(label(a.status));
  return `<div class="approval t-${tone(a.status)}" data-approval="${e(a.stage)}">${head}${question}<p>${who}${a.decidedAt ? ` · ${when(a.decidedAt)}` : ''}</p>${
    a.comment ? `<blockquote aria-label="Comment">${e(a.comment)}</blockquote>` : ''
  }</div>`;
}

function artifactList(list: readonly ArtifactView[]): string {
  if (list.length === 0) return '<p class="empty">No artifacts yet.</p>';
  return list
    .map((a, i) => {
      const files = a.files
        ? `<table><caption class="sr">Files of ${e(a.name)}</caption><thead><tr><th scope="col">File</th><th scope="col" class="num">Bytes</th><th scope="col">SHA-256</th></tr></thead><tbody>${a.files
            .slice(0, 200)
            .map(
              (f) =>
                `<tr><td><code>${e(f.path)}</code></td><td class="num">${e(f.size ?? '')}</td><td><code title="${e(f.sha256)}">${e(f.sha256.slice(0, 16))}…</code></td></tr>`,
            )
            .join('')}</tbody></table>${a.files.length > 200 ? `<p class="hint">and ${a.files.length - 200} more</p>` : ''}`
        : '<p class="hint">No manifest could be read.</p>';
      return `<details class="build" id="artifact-${i}" data-artifact="${e(a.name)}"><summary><span>${e(a.name)}</span><span class="kind">${e(a.fileCount ?? a.files?.length ?? '')} files</span><code class="kind">${e(a.location)}</code></summary>${files}</details>`;
    })
    .join('');
}

export function executionPage(x: ExecutionData, ctx: RenderContext): Page {
  const d = x.detail;
  const ended = executionEnded(d.status);
  const buttons: string[] = [];
  if (ctx.csrf !== undefined && (d.status === 'InProgress' || d.status === 'Stopping')) {
    buttons.push(
      `<form method="post" action="${href.action('stop')}">${csrfField(ctx.csrf)}<input type="hidden" name="execution" value="${e(d.executionId)}"><button type="submit" class="danger">Stop</button><button type="submit" name="abandon" value="1" class="danger">Stop and abandon</button></form>`,
    );
  }
  if (ctx.csrf !== undefined && x.retryStage && (d.status === 'Failed' || d.status === 'Stopped')) {
    buttons.push(
      `<form method="post" action="${href.action('retry')}">${csrfField(ctx.csrf)}<input type="hidden" name="execution" value="${e(d.executionId)}"><button type="submit" class="primary">Retry stage ${e(x.retryStage)}</button></form>`,
    );
  }
  const meta = [
    `<span>Pipeline <a href="${e(href.pipeline(d.pipeline))}">${e(d.pipeline)}</a></span>`,
    `<span>Started ${when(d.startedAt)}</span>`,
    `<span>${ended ? 'Took' : 'Running for'} ${e(duration(between(d.startedAt, d.endedAt, ctx.now)))}</span>`,
    d.trigger ? `<span>By ${e(d.trigger)}</span>` : '',
    d.commitId ? `<span>Commit ${shortCommit(d.commitId)}${d.branch ? ` on ${e(d.branch)}` : ''}</span>` : '',
  ].join('');
  const error = d.error ? `<p class="notice bad">${e(d.error)}${d.cause ? `: ${e(d.cause)}` : ''}</p>` : '';
  const statusOf = (stage: string, action: string) => d.state.stages.find((s) => s.name === stage)?.actions.find((a) => a.name === action)?.status;
  const variables = Object.entries(d.variables);
  const sections: Section[] = [
    section(
      'head',
      `<h1><span class="mono">${e(d.executionId)}</span> ${pill(d.status)}</h1><p class="sub">${meta}</p>${error}${buttons.length ? `<div class="actions">${buttons.join('')}</div>` : ''}`,
      'div',
    ),
    panel('graph', 'Stages', stageGraph(d.state, { ...(d.commitId && { commitId: d.commitId }), ended })),
    panel('timeline', 'Timeline', timelineChart(x.timeline, { start: d.startedAt, ...(d.endedAt && { end: d.endedAt }), now: ctx.now, status: statusOf })),
  ];
  // Sections with nothing to show yet are still there, empty and hidden, for a live update to fill.
  sections.push(
    x.approvals.length > 0
      ? panel('approvals', 'Approvals', x.approvals.map((a, i) => approvalCard(a, d.executionId, ctx, i)).join(''))
      : section('approvals', '', 'div', ' hidden'),
  );
  sections.push(
    x.traffic.length > 0
      ? panel('deploy', 'Deploy traffic', x.traffic.map((s, i) => trafficChart(s, ctx.now, i)).join(''))
      : section('deploy', '', 'div', ' hidden'),
  );
  sections.push(
    panel('builds', 'Builds', x.builds.length ? x.builds.map((b, i) => buildCard(b, i, ctx.now)).join('') : '<p class="empty">No build has started yet.</p>'),
  );
  sections.push(
    section(
      'more',
      `<section class="panel" aria-labelledby="h-artifacts"><h2 id="h-artifacts">Artifacts</h2>${artifactList(x.artifacts)}</section><section class="panel" aria-labelledby="h-vars"><h2 id="h-vars">Variables</h2>${
        variables.length
          ? `<dl class="kv">${variables.map(([k, v]) => `<dt>${e(k)}</dt><dd><code>${e(v)}</code></dd>`).join('')}</dl>`
          : '<p class="empty">No variables.</p>'
      }</section>`,
      'div',
      ' class="grid2"',
    ),
  );
  return {
    title: `${d.executionId} (${label(d.status)})`,
    crumbs: [{ label: d.pipeline, href: href.pipeline(d.pipeline) }, { label: d.executionId }],
    sections,
  };
}

export function messagePage(title: string, text: string): Page {
  return { title, crumbs: [{ label: title }], sections: [section('head', `<h1>${e(title)}</h1><p>${e(text)}</p>`, 'div')] };
}

export function loginPage(csrf: string, failed: boolean): Page {
  return {
    title: 'Sign in',
    crumbs: [{ label: 'Sign in' }],
    sections: [
      section(
        'head',
        `<h1>Sign in</h1><p>This server listens beyond this machine: paste the console token that <code>stepline serve</code> printed.</p>${
          failed ? '<p class="notice bad" role="alert">That token is not this server’s.</p>' : ''
        }<form method="post" action="/login" class="panel">${csrfField(csrf)}<div class="field"><label for="token">Console token</label><input type="text" id="token" name="token" required autocomplete="off"></div><button type="submit" class="primary">Sign in</button></form>`,
        'div',
      ),
    ],
  };
}
