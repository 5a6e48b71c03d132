// Talking to the controller: the JSON API, the /api/stream connection, confirmations, toasts
// and actions.

import { $, h, put } from './dom.js';

export const state = {
  session: null,       // GET /api/session
  overview: null,      // the last `overview` from the stream
  stream: null,        // EventSource of /api/stream
  view: null,          // the view on screen: {name, update(), leave()}
  events: [],          // the last events the stream brought (any app)
};

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** A JSON request to the console's API; throws an ApiError with the server's `error`. */
export async function api(path, { method = 'GET', body } = {}) {
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

export function setConn(word, cls) {
  put($('#conn'), word).className = `conn ${cls}`;
}

/** Opens /api/stream; overview snapshots and events go to the view on screen. */
export function connect() {
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

export function disconnect() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

export function loggedOut() {
  disconnect();
  setConn('logged out', 'bad');
  if (state.view) state.view.leave();
  state.view = null;
  put($('#main'), h('section.notice', {},
    h('h2', {}, 'Not logged in'),
    h('p', {}, 'Your session has ended (or the controller restarted). Run ', h('code', {}, 'corral console-url'),
      ' on the host and open the URL it prints.')));
}

export function toast(text, ok) {
  const t = $('#toast');
  put(t, text).className = `toast ${ok ? 'ok' : 'bad'}`;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, ok ? 5000 : 10000);
}

/** Asks for confirmation in the page's dialog; resolves true on Confirm. */
export function confirmAction(title, text) {
  const dlg = $('#confirm');
  put($('#confirm-title'), title);
  put($('#confirm-text'), text);
  dlg.returnValue = '';
  dlg.showModal();
  $('#confirm-ok').focus();
  return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true }));
}

/** Runs an action on `app` after confirmation; shows its result in `out` and as a toast. */
export async function act(app, action, title, text, body) {
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
