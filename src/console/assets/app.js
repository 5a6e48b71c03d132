// corral's web console: the overview and one app's view, kept live by /api/stream.
// Hand-written, no dependencies, no build step. Elements are built with the DOM API and filled
// with textContent (never innerHTML from data); charts are inline SVG drawn by the code below;
// styles come from app.css or the CSSOM (the page's CSP allows no inline style attributes).

const SVG = 'http://www.w3.org/2000/svg';
const $ = (sel) => document.querySelector(sel);

// ---- DOM helpers ---------------------------------------------------------------------------

/** An HTML element: h('td#id.num', {title: 'x'}, child, 'text', …); `on*` attributes are listeners. */
function h(tag, attrs, ...kids) {
  const [head, ...classes] = tag.split('.');
  const [name, id] = head.split('#');
  const el = fill(document.createElement(name), classes, attrs, kids);
  if (id) el.id = id;
  return el;
}

/** An SVG element, like h(). */
function s(tag, attrs, ...kids) {
  return fill(document.createElementNS(SVG, tag), [], attrs, kids);
}

function fill(el, classes, attrs, kids) {
  if (classes.length) el.setAttribute('class', classes.join(' '));
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

/** Replaces the children of `el`. */
function put(el, ...kids) {
  el.replaceChildren();
  fill(el, [], null, kids);
  return el;
}

// ---- Formatting ----------------------------------------------------------------------------

const fmt = {
  bytes(n) {
    if (n == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i && n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
  },
  pct(p) {
    if (p == null) return '–';
    return `${p < 10 ? p.toFixed(1) : Math.round(p)}%`;
  },
  dur(sec) {
    if (sec == null) return '–';
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), hr = Math.floor(sec / 3600) % 24;
    const m = Math.floor(sec / 60) % 60, ss = sec % 60;
    if (d) return `${d}d${hr}h`;
    if (hr) return `${hr}h${m}m`;
    if (m) return `${m}m${ss}s`;
    return `${ss}s`;
  },
  clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour12: false });
  },
  when(ms) {
    if (!ms) return '–';
    const ago = (Date.now() - ms) / 1000;
    return ago < 86400 ? `${fmt.dur(ago)} ago` : new Date(ms).toLocaleString();
  },
};

/** The colour family of a status word (the words are `corral get`'s, shown as they are). */
function tone(status) {
  if (/CrashLoop|BackOff|Degraded|Fail|Error|Abort|manifest error|OOM/i.test(status)) return 'bad';
  if (/^(Rolling|Canary|Progressing|Starting|Paused|Pending|Promoting)/.test(status)) return 'busy';
  if (/^(Running|Ready|Complete|Succeeded|Active|Scheduled)/.test(status)) return 'ok';
  return 'idle'; // Waiting, Stopped, Suspended, …
}

function badge(status) {
  return h(`span.badge.${tone(status)}`, { 'data-field': 'status' }, status);
}

// ---- Charts --------------------------------------------------------------------------------

/** A sparkline of the last samples: an SVG polyline over a shaded area. */
function sparkline(values, kind) {
  const W = 64, H = 18;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: `spark ${kind}`, 'aria-hidden': 'true' });
  const vals = (values || []).filter((v) => v != null);
  if (vals.length < 2) return svg;
  const max = Math.max(...vals, kind === 'cpu' ? 1 : 0) || 1;
  const step = W / (vals.length - 1);
  const pts = vals.map((v, i) => `${(i * step).toFixed(1)},${(H - 1 - (v / max) * (H - 2)).toFixed(1)}`);
  svg.append(
    s('polygon', { points: `0,${H} ${pts.join(' ')} ${W},${H}`, class: 'area' }),
    s('polyline', { points: pts.join(' '), class: 'line', 'vector-effect': 'non-scaling-stroke' }),
  );
  return svg;
}

/** 1, 1.5, 2, 3 or 5 × 10^k at or above `v`: a round top for an axis. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 3, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** niceMax in KiB, MiB or GiB: the axis reads 250 MiB, 500 MiB rather than 238 MiB, 477 MiB. */
function niceBytes(v) {
  const unit = 1024 ** Math.max(0, Math.min(4, Math.floor(Math.log(Math.max(v, 1)) / Math.log(1024))));
  return niceMax(v / unit) * unit;
}

/**
 * A time chart of `points` ([[unixSeconds, value]…]) over the last `span` seconds up to `now`,
 * with a dashed `limit` line when given, and a readout that follows the pointer.
 */
function timeChart({ points, now, span, interval, format, limit, label, bytes }) {
  const W = 640, H = 170, L = 56, R = 10, T = 10, B = 22;
  const t0 = now - span;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
  let max = Math.max(0, ...points.map((p) => p[1]));
  if (limit) max = Math.max(max, limit);
  max = bytes ? niceBytes(max * 1.05) : niceMax(max * 1.05);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  for (const f of [0, 0.5, 1]) {
    svg.append(
      s('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'grid' }),
      s('text', { x: L - 6, y: y(max * f) + 4, 'text-anchor': 'end', class: 'axis' }, format(max * f)),
    );
  }
  for (let k = 5; k >= 0; k--) {
    const ago = (span / 5) * k;
    const anchor = k === 5 ? 'start' : k === 0 ? 'end' : 'middle';
    svg.append(s('text', { x: x(now - ago), y: H - 6, 'text-anchor': anchor, class: 'axis' },
      k ? `−${Math.round(ago / 60)}m` : 'now'));
  }
  // A gap longer than three intervals (the controller was down) breaks the line.
  const gap = Math.max(3 * (interval || 10), 1);
  let d = '', area = '', start = null, prev = null;
  for (const [t, v] of points) {
    if (t < t0) continue;
    const px = x(t).toFixed(1), py = y(v).toFixed(1);
    if (prev && t - prev[0] <= gap) {
      d += `L${px},${py}`;
      area += `L${px},${py}`;
    } else {
      if (start) area += `L${x(prev[0]).toFixed(1)},${y(0)}L${x(start).toFixed(1)},${y(0)}Z`;
      d += `M${px},${py}`;
      area += `M${px},${py}`;
      start = t;
    }
    prev = [t, v];
  }
  if (start != null) area += `L${x(prev[0]).toFixed(1)},${y(0)}L${x(start).toFixed(1)},${y(0)}Z`;
  svg.append(s('path', { d: area, class: 'area' }), s('path', { d, class: 'line' }));
  if (limit) {
    svg.append(
      s('line', { x1: L, x2: W - R, y1: y(limit), y2: y(limit), class: 'limit' }),
      s('text', { x: W - R - 4, y: y(limit) - 4, 'text-anchor': 'end', class: 'limit-label' }, `limit ${format(limit)}`),
    );
  }
  const cursor = s('g', { class: 'cursor', visibility: 'hidden' });
  const cline = s('line', { y1: T, y2: H - B });
  const dot = s('circle', { r: 3 });
  const text = s('text', { y: T + 12 });
  cursor.append(cline, dot, text);
  svg.append(cursor);
  svg.addEventListener('pointermove', (e) => {
    const box = svg.getBoundingClientRect();
    const t = t0 + ((((e.clientX - box.left) / box.width) * W - L) / (W - L - R)) * span;
    let best = null;
    for (const p of points) if (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
    if (!best) return;
    const px = x(best[0]);
    for (const [k, v] of [['x1', px], ['x2', px]]) cline.setAttribute(k, v);
    dot.setAttribute('cx', px);
    dot.setAttribute('cy', y(best[1]));
    text.setAttribute('x', px < W / 2 ? px + 6 : px - 6);
    text.setAttribute('text-anchor', px < W / 2 ? 'start' : 'end');
    text.textContent = `${fmt.clock(best[0] * 1000)}  ${format(best[1])}`;
    cursor.setAttribute('visibility', 'visible');
  });
  svg.addEventListener('pointerleave', () => cursor.setAttribute('visibility', 'hidden'));
  return svg;
}

/** A horizontal gauge: `part` of `whole`, coloured by how full it is. */
function gauge(part, whole) {
  const frac = whole ? Math.min(1, part / whole) : 0;
  const fillEl = h(`span.fill.${frac > 0.9 ? 'bad' : frac > 0.75 ? 'busy' : 'ok'}`);
  fillEl.style.width = `${(frac * 100).toFixed(1)}%`;
  return h('span.gauge', { role: 'meter', 'aria-valuenow': Math.round(frac * 100), 'aria-valuemin': 0, 'aria-valuemax': 100 }, fillEl);
}

// ---- Talking to the controller -------------------------------------------------------------

const state = {
  session: null,       // GET /api/session
  overview: null,      // the last `overview` from the stream
  stream: null,        // EventSource of /api/stream
  view: null,          // the view on screen: {name, update(), leave()}
  events: [],          // the last events the stream brought (any app)
};

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** A JSON request to the console's API; throws an ApiError with the server's `error`. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-Token'] = state.session ? state.session.csrf : '';
  }
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body && JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    if (res.status === 401) loggedOut();
    throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`);
  }
  return data;
}

function setConn(word, cls) {
  put($('#conn'), word).className = `conn ${cls}`;
}

/** Opens /api/stream; overview snapshots and events go to the view on screen. */
function connect() {
  if (state.stream) return;
  const es = new EventSource('/api/stream');
  state.stream = es;
  es.addEventListener('open', () => setConn('live', 'ok'));
  es.addEventListener('overview', (e) => {
    state.overview = JSON.parse(e.data);
    state.view && state.view.overview && state.view.overview(state.overview);
  });
  es.addEventListener('event', (e) => {
    const ev = JSON.parse(e.data);
    state.events.push(ev);
    if (state.events.length > 50) state.events.shift();
    state.view && state.view.event && state.view.event(ev);
  });
  es.addEventListener('error', () => {
    if (es.readyState !== EventSource.CLOSED) { setConn('reconnecting…', 'busy'); return; }
    // Refused (401 after a controller restart, say): find out why, try again later.
    disconnect();
    setConn('offline', 'bad');
    api('/api/session').then(() => setTimeout(connect, 3000), () => {});
  });
}

function disconnect() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

function loggedOut() {
  disconnect();
  setConn('logged out', 'bad');
  if (state.view) state.view.leave();
  state.view = null;
  put($('#main'), h('section.notice', {},
    h('h2', {}, 'Not logged in'),
    h('p', {}, 'Your session has ended (or the controller restarted). Run ', h('code', {}, 'corral console-url'),
      ' on the host and open the URL it prints.')));
}

function toast(text, ok) {
  const t = $('#toast');
  put(t, text).className = `toast ${ok ? 'ok' : 'bad'}`;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, ok ? 5000 : 10000);
}

/** Asks for confirmation in the page's dialog; resolves true on Confirm. */
function confirmAction(title, text) {
  const dlg = $('#confirm');
  put($('#confirm-title'), title);
  put($('#confirm-text'), text);
  dlg.returnValue = '';
  dlg.showModal();
  $('#confirm-ok').focus();
  return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true }));
}

/** Runs an action on `app` after confirmation; shows its result in `out` and as a toast. */
async function act(app, action, title, text, body) {
  if (!(await confirmAction(title, text))) return;
  const out = $('#action-result');
  if (out) put(out, `${action}…`).className = 'result busy';
  try {
    const res = await api(`/api/apps/${encodeURIComponent(app)}/${action}`, { method: 'POST', body: body || {} });
    const msg = (res && res.message) || `${action}: done`;
    if (out) put(out, msg).className = 'result ok';
    const n = $('#scale-n');
    if (n) delete n.dataset.touched; // follow spec.instances again
    toast(msg, true);
  } catch (err) {
    if (out) put(out, err.message).className = 'result bad';
    toast(err.message, false);
  }
  if (state.view && state.view.refresh) state.view.refresh();
}

// ---- The overview --------------------------------------------------------------------------

function overviewView() {
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
        h('td.name', { 'data-label': 'Name' }, app.kind === 'App'
          ? h('a', { href: `#/app/${encodeURIComponent(app.name)}` }, app.name) : app.name),
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

function controllerCard(c) {
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

function hostCard(host) {
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
function eventList(list, withApp) {
  return h('ul.events', {}, list.slice().reverse().map((e) => h(`li.${e.kind === 'Warning' ? 'warn' : 'normal'}`, {},
    h('time', { datetime: new Date(e.atMs).toISOString(), title: new Date(e.atMs).toLocaleString() }, fmt.clock(e.atMs)),
    withApp && e.app ? [h('a', { href: `#/app/${encodeURIComponent(e.app)}` }, e.app), ' '] : null,
    h('b', {}, e.reason), e.index != null ? h('span.muted', {}, ` #${e.index}`) : null, ' ', e.message)));
}

function showError(err) {
  if (err.status === 401) return;
  put($('#main'), h('section.notice', {}, h('h2', {}, 'Something went wrong'), h('p', {}, err.message)));
}

// ---- One app -------------------------------------------------------------------------------

const LOG_KEEP = 2000; // lines kept in the page

function appView(name) {
  const head = h('section.app-head');
  const actions = h('section.actions');
  const rollout = h('section.panel.rollout', { hidden: true });
  const charts = h('section.charts');
  const instances = h('section.panel');
  const logs = logPanel(name);
  const events = h('section.panel');
  const history = h('section.panel');
  put($('#main'), head, actions, rollout, charts, instances, logs.el, h('div.two', {}, events, history));
  put($('#where'), '/ ', name);
  let detail = null, timer = 0, inflight = false, gone = false;

  function refresh() {
    if (inflight || gone) return;
    inflight = true;
    api(`/api/apps/${encodeURIComponent(name)}`).then((d) => { detail = d; render(d); }, (err) => {
      if (err.status === 404) put(head, h('h1', {}, name), h('p.notice', {}, `No app named ${name}: `, h('a', { href: '#/' }, 'back to all apps')));
      else if (err.status !== 401) toast(err.message, false);
    }).finally(() => { inflight = false; });
  }
  /** One refresh within `ms`, however many updates arrive meanwhile. */
  function soon(ms = 2000) {
    if (!timer) timer = setTimeout(() => { timer = 0; refresh(); }, ms);
  }

  function render(d) {
    put(head,
      h('a.back', { href: '#/' }, '← All apps'),
      h('h1', {}, d.name, ' ', h('span.kind', {}, d.kind)),
      h('div.facts', {}, badge(d.status),
        h('span', { 'data-field': 'ready' }, `${d.ready}/${d.desired} ready`),
        d.memoryLimitBytes ? h('span', {}, `limit ${fmt.bytes(d.memoryLimitBytes)}`) : null));
    renderActions(d);
    renderRollout(d);
    renderCharts(d);
    renderInstances(d);
    renderEvents(d.events || []);
    renderHistory(d.history || []);
  }

  function renderActions(d) {
    if (state.session && state.session.readOnly) {
      put(actions, h('p.muted', {}, 'Read-only session: actions are off.'));
      return;
    }
    if (!actions.firstChild) {
      const n = h('input#scale-n', { type: 'number', min: 0, max: 1000, value: d.desired, 'aria-label': 'instances' });
      const button = (label, action, title, text, body, cls) => h(`button${cls || ''}`, {
        type: 'button', 'data-action': action,
        onclick: () => act(name, action, title, typeof text === 'function' ? text() : text, body && body()),
      }, label);
      put(actions,
        button('Reload', 'reload', `Reload ${name}?`, 'Each instance is replaced by a new one, one at a time; the app keeps serving.'),
        button('Restart', 'restart', `Restart ${name}?`, 'Every instance is stopped and started again: the app is down meanwhile.', null, '.danger'),
        h('span.scale', {}, n, button('Scale', 'scale', `Scale ${name}?`,
          () => `Set spec.instances to ${n.value} in ${name}'s manifest.`, () => ({ instances: Number(n.value) }))),
        h('span', { 'data-slot': 'suspend' }),
        button('Undo rollout', 'undo', `Roll ${name} back?`, 'The previous revision\'s manifest is applied again (corral rollout undo).'),
        h('span#action-result.result', { role: 'status' }));
    }
    const suspended = /^(Stopped|Suspended)/.test(d.status);
    const slot = actions.querySelector('[data-slot=suspend]');
    if (slot.dataset.state !== String(suspended)) {
      slot.dataset.state = String(suspended);
      const action = suspended ? 'start' : 'stop';
      put(slot, h(`button${suspended ? '' : '.danger'}`, {
        type: 'button', 'data-action': action,
        onclick: () => act(name, action, `${suspended ? 'Start' : 'Stop'} ${name}?`, suspended
          ? 'spec.suspend is set to false in the manifest: its instances start.'
          : 'spec.suspend is set to true in the manifest: every instance stops until started again.'),
      }, suspended ? 'Start' : 'Stop'));
    }
    const n = actions.querySelector('#scale-n');
    if (document.activeElement !== n && !n.dataset.touched) n.value = d.desired;
    n.oninput = () => { n.dataset.touched = '1'; };
  }

  function renderRollout(d) {
    // A canary or blue-green (`corral rollout status`'s steps), or a rolling update's counts.
    const r = d.rollout && d.rollout.done !== true ? d.rollout : null;
    const staged = r && r.steps > 0 && r.canary;
    const current = ((d.history || []).find((x) => x.current) || {}).revision;
    const insts = d.instances || [];
    const rolling = /^Rolling (\d+)\/(\d+)/.exec(d.status);
    const mixed = new Set(insts.map((i) => i.revision)).size > 1;
    rollout.hidden = !r && !rolling && !mixed;
    if (rollout.hidden) return;
    let steps, at, caption;
    if (staged) {
      steps = r.steps;
      at = r.step;
      caption = [`${r.strategy}: step ${r.step} of ${r.steps}`, `${r.weight}% of ${r.shareOf || 'instances'} to ${r.canary.revision}`,
        r.paused ? 'paused: corral rollout promote goes on' : null, r.aborted ? `aborted: ${r.aborted}` : null].filter(Boolean).join(' · ');
    } else {
      steps = r && r.desired != null ? r.desired : rolling ? Number(rolling[2]) : d.desired;
      at = r && r.updated != null ? r.updated : rolling ? Number(rolling[1])
        : insts.filter((i) => i.revision === current && i.ready).length;
      caption = `Rolling update: ${at} of ${steps} instances on ${current ? `revision ${current}` : 'the new revision'}`;
    }
    if (r && r.message) caption += ` · ${r.message}`;
    const list = h('ol.steps');
    for (let i = 1; i <= Math.max(1, steps); i++) {
      const cls = staged ? (i < at ? 'done' : i === at ? 'now' : 'todo') : (i <= at ? 'done' : i === at + 1 ? 'now' : 'todo');
      list.append(h(`li.${cls}`, { title: staged ? `step ${i}` : `instance ${i} of ${steps}` }, `${i}`));
    }
    const split = staged ? h('div.split', {}, weightBar(r)) : null;
    put(rollout, h('h2', {}, 'Rollout in progress'), h('p', { 'data-field': 'rollout' }, caption), list, split);
  }

  function weightBar(r) {
    const stable = h('span.stable', {}, `${r.stable.revision} · ${r.stable.ready}/${r.stable.instances}`);
    const canary = h('span.canary', {}, `${r.canary.revision} · ${r.canary.ready}/${r.canary.instances}`);
    stable.style.flexGrow = String(Math.max(1, 100 - r.weight));
    canary.style.flexGrow = String(Math.max(1, r.weight));
    return h('div.weights', {}, stable, canary);
  }

  function renderCharts(d) {
    const c = d.charts || { interval: 10, cpu: [], memory: [] };
    const now = Date.now() / 1000;
    // The last hour; while the controller has kept less, the last 5, 15 or 30 minutes.
    const first = Math.min(now, ...[c.cpu, c.memory].filter((p) => p.length).map((p) => p[0][0]));
    const span = [300, 900, 1800, 3600].find((sp) => sp >= now - first) || 3600;
    const lastWhat = span === 3600 ? 'last hour' : `last ${span / 60} min`;
    const last = (pts) => (pts.length ? pts[pts.length - 1][1] : null);
    const mem = last(c.memory);
    const memTitle = d.memoryLimitBytes
      ? `Memory · ${fmt.bytes(mem)} of ${fmt.bytes(d.memoryLimitBytes)} limit (${fmt.pct((mem || 0) * 100 / d.memoryLimitBytes)}) · ${lastWhat}`
      : `Memory · ${fmt.bytes(mem)} (no limit) · ${lastWhat}`;
    put(charts,
      h('figure.panel', {}, h('figcaption', {}, `CPU · ${fmt.pct(last(c.cpu))} · ${lastWhat}`),
        timeChart({ points: c.cpu, now, span, interval: c.interval, format: fmt.pct, label: `${name} CPU, ${lastWhat}` })),
      h('figure.panel', {}, h('figcaption', {}, memTitle),
        d.memoryLimitBytes ? gauge(mem || 0, d.memoryLimitBytes) : null,
        timeChart({ points: c.memory, now, span, interval: c.interval, format: fmt.bytes, bytes: true, limit: d.memoryLimitBytes, label: `${name} memory, ${lastWhat}` })));
  }

  function renderInstances(d) {
    const rows = (d.instances || []).map((i) => h('tr', { 'data-instance': i.id },
      h('td.num', { 'data-label': '#' }, i.id),
      h('td.num', { 'data-label': 'PID', 'data-field': 'pid' }, i.pid ?? '–'),
      h('td', { 'data-label': 'Revision' }, h('code', {}, i.revision || '–')),
      h('td', { 'data-label': 'State' }, badge(i.phase || (i.ready ? 'Ready' : 'Not ready'))),
      h('td.num', { 'data-label': 'Up' }, i.pid ? fmt.dur(i.uptimeSeconds) : '–'),
      h(`td.num${i.restarts ? '.warn' : ''}`, { 'data-label': 'Restarts' }, i.restarts),
      h('td.num', { 'data-label': 'CPU' }, fmt.pct(i.cpuPercent)),
      h('td.num', { 'data-label': 'Memory' }, fmt.bytes(i.memoryBytes))));
    put(instances, h('h2', {}, `Instances (${rows.length})`),
      h('div.scroll', {}, h('table.instances', {},
        h('thead', {}, h('tr', {}, ['#', 'PID', 'Revision', 'State', 'Up', 'Restarts', 'CPU', 'Memory'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows))),
      rows.length ? null : h('p.empty', {}, 'No instances run.'));
  }

  function renderEvents(list) {
    put(events, h('h2', {}, 'Recent events'), list.length ? eventList(list.slice(-30), false) : h('p.empty', {}, 'No events yet.'));
  }

  function renderHistory(list) {
    const items = list.slice().reverse().map((r) => {
      const line = [h('b', {}, `#${r.number}`), ' ', h('code', {}, r.revision), ' ', h('span.muted', {}, fmt.when(r.createdMs)),
        r.current ? h('span.badge.ok', {}, 'current') : null];
      return h('li', {}, r.manifest ? h('details', {}, h('summary', {}, line), h('pre', {}, r.manifest)) : line);
    });
    put(history, h('h2', {}, 'Revision history'), items.length ? h('ul.history', {}, items) : h('p.empty', {}, 'No revisions recorded.'));
  }

  return {
    name: 'app',
    refresh,
    overview(o) {
      // The stream's snapshot says something changed (or a sample passed): fetch the detail.
      if (o.apps.some((a) => a.name === name)) soon();
    },
    event(ev) {
      if (ev.app === name) {
        if (detail) renderEvents((detail.events = [...(detail.events || []), ev].slice(-50)));
        soon(300);
      }
    },
    leave() {
      gone = true;
      clearTimeout(timer);
      logs.close();
    },
    start() {
      refresh();
      logs.open();
    },
  };
}

/** The live log panel of one app: lines from /api/apps/NAME/logs, with search and pause. */
function logPanel(name) {
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

// ---- Routing and start ---------------------------------------------------------------------

function route() {
  if (state.view) state.view.leave();
  const m = /^#\/app\/(.+)$/.exec(location.hash);
  state.view = m ? appView(decodeURIComponent(m[1])) : overviewView();
  document.title = m ? `${decodeURIComponent(m[1])} · corral` : 'corral';
  state.view.start();
}

// A hidden tab keeps no stream open: the controller then does no work for it.
document.addEventListener('visibilitychange', () => {
  if (!state.session) return;
  if (document.hidden) {
    disconnect();
    if (state.view) state.view.leave();
    state.view = null;
    setConn('paused', 'idle');
  } else {
    connect();
    route();
  }
});

async function main() {
  try {
    state.session = await api('/api/session');
  } catch (err) {
    if (err.status !== 401) showError(err);
    return;
  }
  $('#readonly').hidden = !state.session.readOnly;
  $('#conn').title = `corral ${state.session.version}`;
  window.addEventListener('hashchange', route);
  connect();
  route();
}

main();
