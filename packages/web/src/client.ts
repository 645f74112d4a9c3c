/**
 * The console's one script, served as `/assets/console.js`: live updates over server-sent events.
 * The server sends the page's sections again when what they show changed, and the new bytes of each
 * build log; sections someone is typing in are left alone. Without JavaScript the pages still work
 * (forms post and redirect); they only stop updating by themselves.
 */
export const CONSOLE_JS = `(() => {
  'use strict';
  const body = document.body;
  const stream = body.dataset.stream;
  if (!stream || !window.EventSource) return;
  const indicator = document.querySelector('.live');
  const announce = document.getElementById('announce');
  const setState = (state, text) => {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = text;
  };
  document.addEventListener('input', (event) => {
    const field = event.target;
    if (field && field.closest) {
      const section = field.closest('[data-section]');
      if (section) section.dataset.dirty = '1';
    }
  });
  const busy = (section) => section.dataset.dirty === '1' || section.contains(document.activeElement) && document.activeElement.matches('input,textarea');
  const offsets = () =>
    Array.from(document.querySelectorAll('pre[data-log]'))
      .map((pre) => encodeURIComponent(pre.dataset.log) + ':' + (pre.dataset.offset || '0'))
      .join(',');
  const statusOf = () => {
    const pill = document.querySelector('[data-section=head] .pill');
    return pill ? pill.textContent : '';
  };
  let source;
  let retry;
  const connect = () => {
    clearTimeout(retry);
    const url = stream + (stream.includes('?') ? '&' : '?') + 'logs=' + encodeURIComponent(offsets());
    source = new EventSource(url);
    source.addEventListener('open', () => setState('live', 'Live'));
    source.addEventListener('sections', (message) => {
      const before = statusOf();
      const sections = JSON.parse(message.data);
      for (const id of Object.keys(sections)) {
        const old = document.querySelector('[data-section="' + CSS.escape(id) + '"]');
        if (!old || busy(old)) continue;
        const open = Array.from(old.querySelectorAll('details[open][id]')).map((d) => d.id);
        const closed = Array.from(old.querySelectorAll('details[id]:not([open])')).map((d) => d.id);
        const logs = Array.from(old.querySelectorAll('pre[data-log]')).map((p) => [p.dataset.log, p.scrollHeight - p.scrollTop - p.clientHeight < 40]);
        const template = document.createElement('template');
        template.innerHTML = sections[id];
        const fresh = template.content.firstElementChild;
        if (!fresh) continue;
        for (const d of open) { const n = fresh.querySelector('#' + CSS.escape(d)); if (n) n.open = true; }
        for (const d of closed) { const n = fresh.querySelector('#' + CSS.escape(d)); if (n) n.open = false; }
        old.replaceWith(fresh);
        for (const [key, atEnd] of logs) {
          const pre = fresh.querySelector('pre[data-log="' + CSS.escape(key) + '"]');
          if (pre && atEnd) pre.scrollTop = pre.scrollHeight;
        }
      }
      const after = statusOf();
      if (announce && after && after !== before) announce.textContent = 'Status: ' + after;
    });
    source.addEventListener('title', (message) => { document.title = JSON.parse(message.data); });
    source.addEventListener('log', (message) => {
      const chunk = JSON.parse(message.data);
      const pre = document.querySelector('pre[data-log="' + CSS.escape(chunk.key) + '"]');
      if (!pre) return;
      const atEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
      pre.append(document.createTextNode(chunk.text));
      pre.dataset.offset = String(chunk.size);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener('error', () => {
      // The server went away (a restart): come back with the offsets this page has now.
      setState('lost', 'Reconnecting…');
      source.close();
      retry = setTimeout(connect, 1000);
    });
  };
  for (const pre of document.querySelectorAll('pre[data-log]')) pre.scrollTop = pre.scrollHeight;
  connect();
})();
`;
