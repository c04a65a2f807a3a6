// charts.js: small plain-SVG charts (no library, no inline styles: the CSP forbids them). Each
// chart has a <title> and a text summary for screen readers; colours come from CSS classes.
const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function frame(title, desc, w, h) {
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, role: 'img', class: 'chart', 'aria-label': `${title}. ${desc}` });
  svg.append(el('title', {}, title), el('desc', {}, desc));
  return svg;
}

/** barChart: bars = [{label, value}] (e.g. SMS per hour). */
export function barChart(title, bars, unit) {
  const W = 480, H = 160, L = 36, B = 24, T = 10;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const total = bars.reduce((a, b) => a + b.value, 0);
  const svg = frame(title, `${bars.length} bars, ${total} ${unit} in all, at most ${max} in one`, W, H);
  svg.append(el('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'axis' }));
  svg.append(el('text', { x: L - 4, y: T + 8, class: 'tick', 'text-anchor': 'end' }, String(max)));
  svg.append(el('text', { x: L - 4, y: H - B, class: 'tick', 'text-anchor': 'end' }, '0'));
  const bw = (W - L) / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    const h = ((H - B - T) * b.value) / max;
    const r = el('rect', { x: L + i * bw + 2, y: H - B - h, width: Math.max(1, bw - 4), height: h, class: 'bar' });
    r.append(el('title', {}, `${b.label}: ${b.value} ${unit}`));
    svg.append(r);
    if (bars.length <= 12 || i % 2 === 0) svg.append(el('text', { x: L + i * bw + bw / 2, y: H - 8, class: 'tick', 'text-anchor': 'middle' }, b.label));
  });
  return svg;
}

/** lineChart: series = [{name, points: [{t (ms), v}]}] over time, y between lo and hi. */
export function lineChart(title, series, unit, lo, hi) {
  const W = 480, H = 160, L = 40, B = 24, T = 10;
  const pts = series.flatMap((s) => s.points);
  const t0 = Math.min(...pts.map((p) => p.t)), t1 = Math.max(...pts.map((p) => p.t));
  const svg = frame(title, pts.length ? series.map((s) => `${s.name}: last ${s.points.at(-1)?.v ?? 'none'} ${unit}`).join('; ') : 'no samples yet', W, H);
  svg.append(el('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'axis' }));
  svg.append(el('text', { x: L - 4, y: T + 8, class: 'tick', 'text-anchor': 'end' }, String(hi)));
  svg.append(el('text', { x: L - 4, y: H - B, class: 'tick', 'text-anchor': 'end' }, String(lo)));
  if (!pts.length) return svg;
  const x = (t) => L + (t1 === t0 ? (W - L) / 2 : ((W - L - 4) * (t - t0)) / (t1 - t0));
  const y = (v) => H - B - ((H - B - T) * (Math.min(hi, Math.max(lo, v)) - lo)) / (hi - lo);
  series.forEach((s, i) => {
    if (!s.points.length) return;
    svg.append(el('polyline', { points: s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '), class: `line s${i % 6}` }));
    const last = s.points.at(-1);
    svg.append(el('text', { x: Math.min(W - 40, x(last.t) + 2), y: y(last.v) - 3, class: `tick s${i % 6}` }, s.name));
  });
  svg.append(el('text', { x: L, y: H - 8, class: 'tick' }, new Date(t0).toLocaleTimeString()));
  svg.append(el('text', { x: W, y: H - 8, class: 'tick', 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
  return svg;
}
