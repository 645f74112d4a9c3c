/**
 * The two pictures, in SVG drawn on the server: the execution's timeline (a Gantt of its actions, from
 * history) and a deploy's traffic (green's weight over time, each alarm check, the rollback). Each
 * carries a title and a description, and the numbers are in a table beside it for screen readers.
 */
import type { ActionSpan, TrafficSeries } from '@stepline/core';
import { duration, e, tone } from './html';

const W = 960;

function ticks(span: number, count: number): number[] {
  if (span <= 0) return [0];
  const raw = span / count;
  const steps = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000];
  const step = steps.find((s) => s >= raw) ?? Math.ceil(raw / 3_600_000) * 3_600_000;
  const out: number[] = [];
  for (let t = 0; t <= span + 1; t += step) out.push(t);
  return out;
}

const rel = (ms: number) => (ms === 0 ? '0s' : `+${duration(ms)}`);

export interface TimelineOptions {
  /** Execution start and end (end absent while it runs). */
  start: string;
  end?: string;
  now: number;
  /** Action status by `stage\0action`, for the bar colours. */
  status: (stage: string, action: string) => string | undefined;
}

export function timelineChart(spans: readonly ActionSpan[], o: TimelineOptions): string {
  if (spans.length === 0) return '<p class="empty">No action has started yet.</p>';
  const t0 = Math.min(Date.parse(o.start), ...spans.map((s) => Date.parse(s.start)));
  const t1 = Math.max(o.end ? Date.parse(o.end) : o.now, ...spans.map((s) => (s.end ? Date.parse(s.end) : o.now)), t0 + 1000);
  const left = 210;
  const right = 70;
  const rowH = 28;
  const top = 8;
  const axis = 26;
  const h = top + spans.length * rowH + axis;
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * (W - left - right);
  const grid = ticks(t1 - t0, 6)
    .map((t) => {
      const gx = x(t0 + t).toFixed(1);
      return `<line class="grid" x1="${gx}" x2="${gx}" y1="${top}" y2="${h - axis + 4}"/><text x="${gx}" y="${h - 8}" text-anchor="middle">${e(rel(t))}</text>`;
    })
    .join('');
  const rows = spans
    .map((s, i) => {
      const y = top + i * rowH;
      const start = Date.parse(s.start);
      const end = s.end ? Date.parse(s.end) : o.now;
      const status = o.status(s.stage, s.action) ?? (s.end ? (s.failed ? 'Failed' : 'Succeeded') : 'InProgress');
      const bx = x(start);
      const bw = Math.max(3, x(end) - bx);
      const took = duration(end - start);
      const name = `${s.stage} · ${s.action}`;
      return `<g class="row" data-action="${e(name)}"><text class="lbl" x="${left - 10}" y="${y + 18}" text-anchor="end">${e(name.length > 30 ? `${name.slice(0, 29)}…` : name)}</text><rect class="bar-${tone(status)}" x="${bx.toFixed(1)}" y="${y + 5}" width="${bw.toFixed(1)}" height="${rowH - 10}" rx="4"><title>${e(name)}: ${e(status)}, ${e(took)}</title></rect><text x="${(bx + bw + 6).toFixed(1)}" y="${y + 18}">${e(took)}${s.end ? '' : '…'}</text></g>`;
    })
    .join('');
  const table = `<table class="sr"><caption>Actions by start time</caption><thead><tr><th>Action</th><th>Started</th><th>Took</th></tr></thead><tbody>${spans
    .map(
      (s) =>
        `<tr><td>${e(s.stage)} · ${e(s.action)}</td><td>${e(rel(Date.parse(s.start) - t0))}</td><td>${e(duration((s.end ? Date.parse(s.end) : o.now) - Date.parse(s.start)))}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  return `<figure><svg class="chart timeline" viewBox="0 0 ${W} ${h}" role="img" aria-labelledby="tl-title"><title id="tl-title">Timeline: ${spans.length} actions over ${e(duration(t1 - t0))}</title>${grid}${rows}</svg>${table}</figure>`;
}

export function trafficChart(s: TrafficSeries, now: number, index = 0): string {
  const H = 270;
  const m = { l: 52, r: 24, t: 18, b: 58 };
  const t0 = Date.parse(s.start);
  const last = Math.max(...s.points.map((p) => Date.parse(p.at)), ...s.checks.map((c) => Date.parse(c.at)), s.rollback ? Date.parse(s.rollback.at) : 0);
  const t1 = Math.max(s.end ? Date.parse(s.end) : now, last, t0 + 1000);
  const x = (t: number) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
  const y = (w: number) => m.t + (1 - w / 100) * (H - m.t - m.b);
  const base = y(0);
  const pts = s.points.map((p) => ({ t: Date.parse(p.at), w: p.weight }));
  let path = '';
  for (const [i, p] of pts.entries()) path += i === 0 ? `M${x(p.t).toFixed(1)},${y(p.w).toFixed(1)}` : `H${x(p.t).toFixed(1)}V${y(p.w).toFixed(1)}`;
  path += `H${x(t1).toFixed(1)}`;
  const area = `${path}V${base.toFixed(1)}H${x(pts[0]?.t ?? t0).toFixed(1)}Z`;
  const yGrid = [0, 25, 50, 75, 100]
    .map(
      (w) =>
        `<line class="grid" x1="${m.l}" x2="${W - m.r}" y1="${y(w).toFixed(1)}" y2="${y(w).toFixed(1)}"/><text x="${m.l - 8}" y="${(y(w) + 4).toFixed(1)}" text-anchor="end">${w}%</text>`,
    )
    .join('');
  const xGrid = ticks(t1 - t0, 6)
    .map((t) => `<text x="${x(t0 + t).toFixed(1)}" y="${H - m.b + 40}" text-anchor="middle">${e(rel(t))}</text>`)
    .join('');
  const points = pts
    .slice(1)
    .map(
      (p) =>
        `<circle class="pt weight-point" data-weight="${p.w}" cx="${x(p.t).toFixed(1)}" cy="${y(p.w).toFixed(1)}" r="5"><title>${p.w}% on green at ${e(rel(p.t - t0))}</title></circle><text class="lbl" x="${(x(p.t) + (x(p.t) > W - 80 ? -8 : 8)).toFixed(1)}" y="${(y(p.w) - 8).toFixed(1)}"${x(p.t) > W - 80 ? ' text-anchor="end"' : ''}>${p.w}%</text>`,
    )
    .join('');
  const checkY = base + 16;
  const checks = s.checks
    .map(
      (c) =>
        `<circle class="alarm-check chk-${c.ok ? 'ok' : 'bad'}" data-ok="${c.ok}" cx="${x(Date.parse(c.at)).toFixed(1)}" cy="${checkY.toFixed(1)}" r="4"><title>alarm check ${c.ok ? 'passed' : 'failed'} at ${e(rel(Date.parse(c.at) - t0))}</title></circle>`,
    )
    .join('');
  const rollback = s.rollback
    ? `<g class="rollback"><line class="rb" x1="${x(Date.parse(s.rollback.at)).toFixed(1)}" x2="${x(Date.parse(s.rollback.at)).toFixed(1)}" y1="${m.t}" y2="${base}"/><text class="rbt" x="${(x(Date.parse(s.rollback.at)) - 6).toFixed(1)}" y="${m.t + 12}" text-anchor="end">rolled back</text></g>`
    : '';
  const id = `tr-${index}`;
  const final = pts.at(-1)?.w ?? 0;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const desc = `${plural(s.points.length - 1, 'weight change')}, now ${final}% on green; ${plural(s.checks.length, 'alarm check')} (${s.checks.filter((c) => !c.ok).length} failed)${s.rollback ? '; rolled back' : ''}`;
  const table = `<table class="sr"><caption>Traffic on green</caption><thead><tr><th>When</th><th>Green</th></tr></thead><tbody>${pts
    .map((p) => `<tr><td>${e(rel(p.t - t0))}</td><td>${p.w}%</td></tr>`)
    .join('')}</tbody></table>`;
  return `<figure class="traffic" data-action="${e(`${s.stage} · ${s.action}`)}"><svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}-t ${id}-d"><title id="${id}-t">Traffic on green for ${e(s.stage)} · ${e(s.action)}</title><desc id="${id}-d">${e(desc)}</desc>${yGrid}<text x="${m.l}" y="${(checkY + 4).toFixed(1)}" text-anchor="end" dx="-8">checks</text>${xGrid}<path class="area" d="${area}"/><path class="wline" d="${path}"/>${points}${checks}${rollback}</svg>${table}<figcaption>${e(desc)}. ${s.initial ? 'First deployment: nothing was live, so green took all traffic at its first step' : `Plan: ${s.planned.map((w) => `${w}%`).join(' → ') || 'none'}`}${s.rollback?.reason ? `. Rollback: ${e(s.rollback.reason)}` : ''}</figcaption><div class="legend" aria-hidden="true"><span><i class="lg-g"></i>green weight</span><span><i class="lg-ok"></i>alarm check passed</span><span><i class="lg-bad"></i>alarm check failed</span></div></figure>`;
}
