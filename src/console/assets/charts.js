// Sparklines, time charts and gauges: inline SVG drawn by our own code.

import { h, s, fmt } from './dom.js';

/** A sparkline of the last samples: an SVG polyline over a shaded area. */
export function sparkline(values, kind) {
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
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 3, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** niceMax in KiB, MiB or GiB: the axis reads 250 MiB, 500 MiB rather than 238 MiB, 477 MiB. */
export function niceBytes(v) {
  const unit = 1024 ** Math.max(0, Math.min(4, Math.floor(Math.log(Math.max(v, 1)) / Math.log(1024))));
  return niceMax(v / unit) * unit;
}

/**
 * A time chart of `points` ([[unixSeconds, value]…]) over the last `span` seconds up to `now`,
 * with a dashed `limit` line when given, and a readout that follows the pointer.
 */
export function timeChart({ points, now, span, interval, format, limit, label, bytes }) {
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
export function gauge(part, whole) {
  const frac = whole ? Math.min(1, part / whole) : 0;
  const fillEl = h(`span.fill.${frac > 0.9 ? 'bad' : frac > 0.75 ? 'busy' : 'ok'}`);
  fillEl.style.width = `${(frac * 100).toFixed(1)}%`;
  return h('span.gauge', { role: 'meter', 'aria-valuenow': Math.round(frac * 100), 'aria-valuemin': 0, 'aria-valuemax': 100 }, fillEl);
}
