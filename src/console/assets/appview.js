// One app: its instances, charts, rollout, history, events and actions.

import { $, h, put, fmt, badge } from './dom.js';
import { timeChart, gauge } from './charts.js';
import { state, api, toast, act } from './live.js';
import { eventList } from './overview.js';
import { logPanel } from './logs.js';

export function appView(name) {
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
    if (d.kind !== 'App') {
      put(actions, h('p.muted', {}, `A ${d.kind} runs as its manifest says: the actions are an App's.`));
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
    let steps, at, caption, started = 0;
    if (staged) {
      steps = r.steps;
      at = r.step;
      caption = [`${r.strategy}: step ${r.step} of ${r.steps}`, `${r.weight}% of ${r.shareOf || 'instances'} to ${r.canary.revision}`,
        r.paused ? 'paused: corral rollout promote goes on' : null, r.aborted ? `aborted: ${r.aborted}` : null].filter(Boolean).join(' · ');
    } else {
      // One box per desired instance: ready on the new revision, started on it, still old.
      steps = r && r.desired != null ? r.desired : rolling ? Number(rolling[2]) : d.desired;
      const fresh = insts.filter((i) => current && i.revision === current);
      at = current ? fresh.filter((i) => i.ready).length : rolling ? Number(rolling[1]) : (r && r.updated) || 0;
      started = current ? fresh.length : at;
      caption = `Rolling update${current ? ` to revision ${current}` : ''}: ${at} of ${steps} ready`
        + (started > at ? `, ${started - at} starting` : '');
    }
    if (r && r.message) caption += ` · ${r.message}`;
    const list = h('ol.steps');
    for (let i = 1; i <= Math.max(1, steps); i++) {
      const cls = staged ? (i < at ? 'done' : i === at ? 'now' : 'todo') : (i <= at ? 'done' : i <= Math.max(started, at + 1) ? 'now' : 'todo');
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
