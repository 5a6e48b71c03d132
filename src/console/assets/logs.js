// One app's logs, live from /api/apps/NAME/logs, with search and pause.

import { $, h, put, fmt } from './dom.js';

const LOG_KEEP = 2000; // lines kept in the page

export function logPanel(name) {
  const box = h('div.log', { id: 'log', tabindex: 0, 'aria-label': `${name} logs` });
  const search = h('input#log-search', { type: 'search', placeholder: 'Search the logs', 'aria-label': 'search the logs' });
  const pause = h('button#log-pause', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  const info = h('span.muted', { 'data-field': 'log-state' }, 'connecting…');
  const el = h('section.panel.logs', {}, h('div.log-head', {}, h('h2', {}, 'Logs'), search, pause, info), box);
  let es = null, paused = false, held = [];

  const matches = (div) => !search.value || div.dataset.text.toLowerCase().includes(search.value.toLowerCase());
  search.addEventListener('input', () => {
    for (const div of box.children) div.hidden = !matches(div);
  });
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) { const lines = held; held = []; show(lines); }
    labels();
  });
  function labels() {
    put(pause, paused ? `Resume${held.length ? ` (${held.length} new)` : ''}` : 'Pause');
  }
  function lineEl(l) {
    const when = typeof l.time === 'number' ? new Date(l.time > 1e12 ? l.time : l.time * 1000) : new Date(l.time);
    const t = Number.isNaN(when.getTime()) ? String(l.time || '') : fmt.clock(when.getTime());
    const div = h(`div.line.${l.stream === 'err' ? 'err' : 'out'}`, {},
      h('time', {}, t), h('span.inst', {}, l.instance == null ? '' : `#${l.instance}`), h('span.text', {}, l.line));
    div.dataset.text = l.line;
    div.hidden = !matches(div);
    return div;
  }
  function show(lines) {
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.append(...lines.map(lineEl));
    while (box.childElementCount > LOG_KEEP) box.firstElementChild.remove();
    if (atEnd) box.scrollTop = box.scrollHeight;
  }
  let batch = [], flush = 0;
  function add(l) {
    if (paused) {
      held.push(l);
      if (held.length > LOG_KEEP) held.shift();
      labels();
      return;
    }
    batch.push(l);
    if (!flush) flush = requestAnimationFrame(() => { flush = 0; const b = batch; batch = []; show(b); });
  }
  return {
    el,
    open() {
      es = new EventSource(`/api/apps/${encodeURIComponent(name)}/logs?tail=200`);
      es.addEventListener('open', () => put(info, 'live'));
      es.addEventListener('line', (e) => add(JSON.parse(e.data)));
      es.addEventListener('error', () => put(info, es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…'));
    },
    close() {
      if (es) es.close();
      es = null;
      cancelAnimationFrame(flush);
    },
  };
}
