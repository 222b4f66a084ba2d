// DOM helpers and the hand-written SVG charts: the lift interval plot, the rollout timeline, the
// calibration plot and small bars. Text always goes in as text nodes, never as HTML.
const SVG = 'http://www.w3.org/2000/svg';

/** h('td', {class: 'num'}, 'text', child, ...): an element; null and false children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.substring(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * The lift and its 95% interval against zero. Values are in the caller's unit (the console passes
 * percentage points). Green when the whole interval is above zero, red when below, grey otherwise.
 */
export function intervalPlot({ lower, upper, point, label, unit = '', id }) {
  const width = 420;
  const height = 64;
  const pad = 28;
  const reach = Math.max(Math.abs(lower), Math.abs(upper), Math.abs(point), 1e-9) * 1.25;
  const x = (v) => pad + ((v + reach) / (2 * reach)) * (width - 2 * pad);
  const kind = lower > 0 ? 'better' : upper < 0 ? 'worse' : 'unclear';
  const fmt = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}${unit}`;
  const ends = [lower, upper].map((v) => s('text', { x: x(v), y: 62, 'text-anchor': 'middle' }, fmt(v)));
  // the zero label only where it does not run into an end's label
  const zeroLabel = Math.min(Math.abs(x(0) - x(lower)), Math.abs(x(0) - x(upper))) > 34
    ? s('text', { x: x(0), y: 62, 'text-anchor': 'middle' }, '0') : null;
  return s('svg', {
    class: 'interval-plot', id, width, height: height + 8, viewBox: `0 0 ${width} ${height + 8}`, role: 'img',
    'aria-label': `${label}: ${fmt(point)}, 95% interval ${fmt(lower)} to ${fmt(upper)}`,
    'data-lower': lower, 'data-upper': upper, 'data-point': point,
  },
  s('line', { class: 'axis', x1: pad, x2: width - pad, y1: 46, y2: 46 }),
  s('line', { class: 'zero', x1: x(0), x2: x(0), y1: 18, y2: 50 }),
  zeroLabel,
  s('line', { class: `interval ${kind}`, x1: x(lower), x2: x(upper), y1: 32, y2: 32 }),
  s('circle', { class: 'point', cx: x(point), cy: 32, r: 5 }),
  s('text', { x: x(point), y: 14, 'text-anchor': 'middle' }, `lift ${fmt(point)}, 95% interval`),
  ends);
}

/**
 * A rollout's candidate weight over time: a step line through its events (each one a marker named
 * after its type), from the first event to now while the rollout is active.
 */
export function timeline({ events, steps, active, now = Date.now() }) {
  const width = 760;
  const height = 230;
  const left = 44;
  const right = 20;
  const top = 18;
  const bottom = 40;
  const times = events.map((e) => Date.parse(e.time));
  const start = Math.min(...times);
  const end = Math.max(active ? now : Math.max(...times), start + 1000);
  const x = (t) => left + ((t - start) / (end - start)) * (width - left - right);
  const anchor = (px) => (px > width - right - 40 ? 'end' : px < left + 40 ? 'start' : 'middle');
  const y = (w) => top + (1 - w / 100) * (height - top - bottom);
  const grid = [0, ...steps.map(Number), 100]
    .filter((v, i, all) => all.indexOf(v) === i)
    .map((w) => [
      s('line', { class: 'grid', x1: left, x2: width - right, y1: y(w), y2: y(w) }),
      s('text', { x: left - 6, y: y(w) + 4, 'text-anchor': 'end' }, `${w}%`),
    ]);
  let d = '';
  events.forEach((e, i) => {
    const t = times[i];
    const w = Number(e.weight || 0);
    d += i === 0 ? `M${x(t)},${y(w)}` : `H${x(t)}V${y(w)}`;
  });
  d += `H${x(end)}`;
  const markers = events.map((e, i) => s('g', { class: `event ${e.type}`, 'data-event-type': e.type },
    s('circle', { cx: x(times[i]), cy: y(Number(e.weight || 0)), r: 5 },
      s('title', {}, `${e.type} at ${e.time}: ${Number(e.weight || 0)}%${e.detail ? ` — ${e.detail}` : ''}`)),
    s('text', { x: x(times[i]), y: y(Number(e.weight || 0)) - 9, 'text-anchor': anchor(x(times[i])) }, e.type)));
  const span = (end - start) / 1000;
  const label = span < 120 ? `${span.toFixed(0)} s` : span < 7200 ? `${(span / 60).toFixed(1)} min` : `${(span / 3600).toFixed(1)} h`;
  return s('svg', { class: 'rollout-timeline', id: 'rollout-timeline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `candidate weight over time, ${events.length} events` },
  grid,
  s('line', { class: 'axis', x1: left, x2: width - right, y1: y(0), y2: y(0) }),
  s('path', { class: 'weight', d }),
  markers,
  s('text', { x: left, y: height - 12 }, new Date(start).toISOString().substring(11, 19)),
  s('text', { x: width - right, y: height - 12, 'text-anchor': 'end' }, `${new Date(end).toISOString().substring(11, 19)}${active ? ' (now)' : ''}`),
  s('text', { x: (left + width - right) / 2, y: height - 12, 'text-anchor': 'middle', class: 'muted' }, `${label} shown`));
}

/** Observed positive rate against mean score per decile, with the diagonal of perfect calibration. */
export function calibrationPlot(bins) {
  const size = 220;
  const pad = 30;
  const x = (v) => pad + v * (size - 2 * pad);
  const y = (v) => size - pad - v * (size - 2 * pad);
  const points = bins.filter((b) => Number(b.rows) > 0);
  const d = points.map((b, i) => `${i === 0 ? 'M' : 'L'}${x(b.meanScore)},${y(b.observedRate)}`).join('');
  return s('svg', { class: 'calibration-plot', width: size, height: size, viewBox: `0 0 ${size} ${size}`, role: 'img', 'aria-label': 'calibration' },
    s('line', { class: 'axis', x1: pad, x2: size - pad, y1: y(0), y2: y(0) }),
    s('line', { class: 'axis', x1: pad, x2: pad, y1: y(0), y2: y(1) }),
    s('line', { class: 'diagonal', x1: x(0), y1: y(0), x2: x(1), y2: y(1) }),
    d ? s('path', { class: 'calibration', d }) : null,
    points.map((b) => s('circle', { cx: x(b.meanScore), cy: y(b.observedRate), r: 3, class: 'point' })),
    s('text', { x: size / 2, y: size - 6, 'text-anchor': 'middle' }, 'mean score'),
    s('text', { x: 10, y: size / 2, transform: `rotate(-90 10 ${size / 2})`, 'text-anchor': 'middle' }, 'observed rate'));
}

/** A small horizontal bar, value against a maximum; kind '' | 'warn' | 'bad'. */
export function bar(value, max, kind = '') {
  const share = Math.max(0, Math.min(1, max > 0 ? value / max : 0));
  return h('span', { class: `bar ${kind}` }, filled(share));
}

/** A progress bar towards a target, with its text. */
export function progress(value, target) {
  const share = Math.max(0, Math.min(1, target > 0 ? value / target : 0));
  return h('span', { class: 'progress', role: 'progressbar', 'aria-valuenow': Math.round(share * 100), 'aria-valuemin': 0, 'aria-valuemax': 100 },
    filled(share));
}

// through the CSSOM: the Content-Security-Policy forbids style attributes
function filled(share) {
  const inner = h('span');
  inner.style.width = `${(share * 100).toFixed(1)}%`;
  return inner;
}
