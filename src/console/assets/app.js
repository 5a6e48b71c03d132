// corral's web console: the overview and one app's view, kept live by /api/stream.
// Hand-written, no dependencies, no build step. Elements are built with the DOM API and filled
// with textContent (never innerHTML from data); charts are inline SVG drawn by the code below;
// styles come from app.css or the CSSOM (the page's CSP allows no inline style attributes).
// This file routes between the views and starts the page; the rest is in the modules it imports.

import { $ } from './dom.js';
import { state, api, setConn, connect, disconnect } from './live.js';
import { overviewView, showError } from './overview.js';
import { appView } from './appview.js';

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
