/** Escaping and the small formatting helpers every page uses. */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Short alias for templates. */
export const e = (text: string | number | undefined | null): string => (text === undefined || text === null ? '' : escapeHtml(String(text)));

/** A status as a CSS class suffix: `Succeeded` → `succeeded`, absent → `none`. */
export const tone = (status: string | undefined): string => {
  const s = (status ?? '').toLowerCase().replace(/[^a-z]/g, '');
  if (s === 'succeeded' || s === 'approved') return 'ok';
  if (s === 'failed' || s === 'rejected' || s === 'fault' || s === 'timedout') return 'bad';
  if (s === 'inprogress' || s === 'pending' || s === 'stopping') return 'run';
  if (s === 'waiting') return 'wait';
  if (s === 'stopped' || s === 'abandoned' || s === 'superseded' || s === 'expired') return 'off';
  return 'none';
};

const LABELS: Record<string, string> = { InProgress: 'In Progress', IN_PROGRESS: 'In Progress', SUCCEEDED: 'Succeeded', FAILED: 'Failed', STOPPED: 'Stopped' };
export const label = (status: string | undefined): string => (status === undefined ? 'Not run' : (LABELS[status] ?? status));

const ICONS: Record<string, string> = { ok: '✓', bad: '✕', run: '', wait: '⏸', off: '■', none: '○' };

/** A status pill: an icon (hidden from screen readers) and the status in words. */
export function pill(status: string | undefined, extra = ''): string {
  const t = tone(status);
  const icon = t === 'run' ? '<span class="spin" aria-hidden="true"></span>' : `<span aria-hidden="true">${ICONS[t]}</span>`;
  return `<span class="pill t-${t}${extra ? ` ${extra}` : ''}" data-status="${e(status ?? 'none')}">${icon}${e(label(status))}</span>`;
}

/** `2026-12-04T18:46:36.123Z` → `Dec 4, 18:46:36` (UTC), in a <time> element. */
export function when(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return e(iso);
  const month = d.toLocaleString('en', { month: 'short', timeZone: 'UTC' });
  const time = d.toISOString().slice(11, 19);
  return `<time datetime="${e(iso)}">${month} ${d.getUTCDate()}, ${time}</time>`;
}

/** A duration in words: 420ms, 6.3s, 2m 05s, 1h 02m. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export const between = (start: string | undefined, end: string | undefined, now = Date.now()): number | undefined =>
  start ? (end ? Date.parse(end) : now) - Date.parse(start) : undefined;

export const href = {
  home: () => '/',
  pipeline: (name: string) => `/pipelines/${encodeURIComponent(name)}`,
  execution: (id: string) => `/executions/${encodeURIComponent(id)}`,
  action: (verb: string) => `/actions/${verb}`,
};

/** A hidden CSRF field for every form that changes something. */
export const csrfField = (token: string) => `<input type="hidden" name="csrf" value="${e(token)}">`;

export const shortCommit = (id: string | undefined) => (id ? `<code class="commit" title="${e(id)}">${e(id.slice(0, 7))}</code>` : '');
