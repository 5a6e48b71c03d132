// The overview: the controller, the host, every app and the latest events.

import { $, h, put, fmt, badge } from './dom.js';
import { sparkline, gauge } from './charts.js';
import { state, api } from './live.js';

export function overviewView() {
  const cards = h('section.cards');
  const tbody = h('tbody');
  const table = h('table.apps', {},
    h('thead', {}, h('tr', {}, ['Kind', 'Name', 'Ready', 'Status', 'Restarts', 'CPU', 'Memory'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  const empty = h('p.empty', { hidden: true }, 'No apps yet: put a manifest in the controller\'s directory.');
  const feed = h('section.panel.feed', { hidden: true });
  put($('#main'), cards, h('section.panel', {}, h('h2', {}, 'Apps'), h('div.scroll', {}, table), empty), feed);
  put($('#where'));
  const rows = new Map();

  function update(o) {
    put(cards, controllerCard(o.controller), hostCard(o.host));
    const seen = new Set();
    for (const app of o.apps) {
      const key = `${app.kind}/${app.name}`;
      seen.add(key);
      let row = rows.get(key);
      if (!row) {
        row = h('tr', { 'data-app': app.name, 'data-kind': app.kind });
        rows.set(key, row);
      }
      tbody.append(row); // in the server's order
      put(row,
        h('td', { 'data-label': 'Kind' }, h('span.kind', {}, app.kind)),
        h('td.name', { 'data-label': 'Name' }, h('a', { href: `#/app/${encodeURIComponent(app.name)}` }, app.name)),
        h('td.num', { 'data-label': 'Ready', 'data-field': 'ready' }, `${app.ready}/${app.desired}`),
        h('td', { 'data-label': 'Status' }, badge(app.status)),
        h(`td.num${app.restarts ? '.warn' : ''}`, { 'data-label': 'Restarts', 'data-field': 'restarts' }, app.restarts),
        h('td', { 'data-label': 'CPU' }, h('span.metric', {}, h('span.num', {}, fmt.pct(app.cpuPercent)), sparkline(app.cpuHistory, 'cpu'))),
        h('td', { 'data-label': 'Memory' }, h('span.metric', {}, h('span.num', {}, fmt.bytes(app.memoryBytes)), sparkline(app.memoryHistory, 'mem'))));
    }
    for (const [key, row] of rows) if (!seen.has(key)) { row.remove(); rows.delete(key); }
    empty.hidden = o.apps.length > 0;
  }

  function events() {
    feed.hidden = state.events.length === 0;
    put(feed, h('h2', {}, 'Latest events'), eventList(state.events.slice(-8), true));
  }

  return {
    name: 'overview',
    overview: update,
    event: events,
    leave() {},
    start() {
      events();
      if (state.overview) update(state.overview);
      else api('/api/overview').then((o) => { state.overview = state.overview || o; update(state.overview); }, showError);
    },
  };
}

export function controllerCard(c) {
  const git = c.git;
  let gitLine = null;
  if (git) {
    gitLine = h('div.kv', { 'data-field': 'git' }, h('span', {}, 'git'),
      h('span', { title: git.subject || '' }, h('code', {}, git.commit || '–'), ' ', git.subject ? h('span.subject', {}, git.subject) : null, ' ',
        git.error ? h('span.badge.bad', { title: git.error }, 'error')
          : h(`span.badge.${git.inSync ? 'ok' : 'busy'}`, {}, git.inSync ? 'in sync' : 'out of sync')));
  }
  return h('article.card', { 'data-card': 'controller' },
    h('h2', {}, 'Controller'),
    h('div.kv', {}, h('span', {}, 'version'), h('span', {}, c.version)),
    h('div.kv', {}, h('span', {}, 'pid · up'), h('span', {}, `${c.pid} · ${fmt.dur(c.uptimeSeconds)}`)),
    h('div.kv', {}, h('span', {}, 'CPU · memory'), h('span', {}, `${fmt.pct(c.cpuPercent)} · ${fmt.bytes(c.memoryBytes)}`)),
    h('div.kv', {}, h('span', {}, 'manifests'), h('span.path', { title: c.manifests }, c.manifests)),
    gitLine);
}

export function hostCard(host) {
  if (!host) return null;
  const load = (host.load || []).map((l) => Number(l).toFixed(2)).join(' · ');
  return h('article.card', { 'data-card': 'host' },
    h('h2', {}, 'Host'),
    h('div.kv', {}, h('span', {}, 'CPU'), h('span', {}, fmt.pct(host.cpuPercent))),
    h('div.kv', {}, h('span', {}, 'memory'), h('span', {}, `${fmt.bytes(host.memoryUsedBytes)} of ${fmt.bytes(host.memoryTotalBytes)}`)),
    gauge(host.memoryUsedBytes, host.memoryTotalBytes),
    h('div.kv', {}, h('span', {}, 'load 1 · 5 · 15'), h('span', {}, load || '–')),
    h('div.kv', {}, h('span', {}, 'disk'), h('span', {}, `${fmt.bytes(host.diskUsedBytes)} of ${fmt.bytes(host.diskTotalBytes)}`)),
    gauge(host.diskUsedBytes, host.diskTotalBytes));
}

/** Events, newest first; `withApp` names each one's app (a link to it). */
export function eventList(list, withApp) {
  return h('ul.events', {}, list.slice().reverse().map((e) => h(`li.${e.kind === 'Warning' ? 'warn' : 'normal'}`, {},
    h('time', { datetime: new Date(e.atMs).toISOString(), title: new Date(e.atMs).toLocaleString() }, fmt.clock(e.atMs)),
    withApp && e.app ? [h('a', { href: `#/app/${encodeURIComponent(e.app)}` }, e.app), ' '] : null,
    h('b', {}, e.reason), e.index != null ? h('span.muted', {}, ` #${e.index}`) : null, ' ', e.message)));
}

export function showError(err) {
  if (err.status === 401) return;
  put($('#main'), h('section.notice', {}, h('h2', {}, 'Something went wrong'), h('p', {}, err.message)));
}
