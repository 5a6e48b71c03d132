// The console's DOM helpers (elements built with the DOM API, filled with textContent, never
// innerHTML from data) and how figures and statuses are written.

export const SVG = 'http://www.w3.org/2000/svg';
export const $ = (sel) => document.querySelector(sel);

/** An HTML element: h('td#id.num', {title: 'x'}, child, 'text', …); `on*` attributes are listeners. */
export function h(tag, attrs, ...kids) {
  const [head, ...classes] = tag.split('.');
  const [name, id] = head.split('#');
  const el = fill(document.createElement(name), classes, attrs, kids);
  if (id) el.id = id;
  return el;
}

/** An SVG element, like h(). */
export function s(tag, attrs, ...kids) {
  return fill(document.createElementNS(SVG, tag), [], attrs, kids);
}

export function fill(el, classes, attrs, kids) {
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
export function put(el, ...kids) {
  el.replaceChildren();
  fill(el, [], null, kids);
  return el;
}

export const fmt = {
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
export function tone(status) {
  if (/CrashLoop|BackOff|Degraded|Fail|Error|Abort|manifest error|OOM/i.test(status)) return 'bad';
  if (/^(Rolling|Canary|Progressing|Starting|Paused|Pending|Promoting)/.test(status)) return 'busy';
  if (/^(Running|Ready|Complete|Succeeded|Active|Scheduled)/.test(status)) return 'ok';
  return 'idle'; // Waiting, Stopped, Suspended, …
}

export function badge(status) {
  return h(`span.badge.${tone(status)}`, { 'data-field': 'status' }, status);
}
