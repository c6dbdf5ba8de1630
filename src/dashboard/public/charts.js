// A uPlot chart wrapper: joins several series on their timestamps, keeps the x axis on the
// selected range, resizes with its container, and records on the element how many points it
// drew (for people reading the DOM and for the end-to-end test). What is drawn: chart-specs.js.
import uPlot from './vendor/uPlot.esm.js';
import { h } from './dom.js';
import { fmtMs, fmtNum, fmtPct } from './format.js';

/** Tick steps for counts: whole numbers only. */
const INT_INCREMENTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];

const COLORS = ['#1565c0', '#c62828', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f'];

/** Tick labels with as many decimals as the tick step needs (0, 0.5, 1 rather than 0.000, 0.500, 1.000). */
function tickFormatter(kind) {
  return (_u, ticks) => {
    const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
    const scale = kind === 'pct' ? 100 : 1;
    const decimals = step > 0 ? Math.min(6, Math.max(0, -Math.floor(Math.log10(step * scale) + 1e-9))) : 0;
    return ticks.map((v) => {
      if (v === null) return '';
      const text = (v * scale).toFixed(decimals);
      return kind === 'pct' ? `${text}%` : kind === 'ms' ? `${text} ms` : text;
    });
  };
}

function formatter(kind) {
  if (kind === 'ms') return (v) => fmtMs(v);
  if (kind === 'pct') return (v) => fmtPct(v, 1);
  if (kind === 'int') return (v) => (v === null || v === undefined ? '—' : String(Math.round(v)));
  return (v) => fmtNum(v, 3);
}

/** [x (seconds), ...one column per series] with null where a series has no point at that time. */
export function joinSeries(list) {
  const times = new Set();
  for (const s of list) if (s !== null) for (const t of s.t) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const at = new Map(xs.map((t, i) => [t, i]));
  const cols = list.map((s) => {
    const col = new Array(xs.length).fill(null);
    if (s !== null) for (let i = 0; i < s.t.length; i++) col[at.get(s.t[i])] = s.v[i];
    return col;
  });
  return [xs.map((t) => t / 1000), ...cols];
}

export class Chart {
  /** @param range {{start: number, end: number}} read on every redraw (ms). */
  constructor(parent, spec, range) {
    this.spec = spec;
    this.range = range;
    this.format = formatter(spec.fmt);
    this.plotEl = h('div', { class: 'plot', attrs: { role: 'img', 'aria-label': `${spec.title}: no data yet` } });
    this.emptyEl = h('p', { class: 'chart-empty', text: 'No data in this range yet.' });
    this.el = h('figure', { class: 'chart', data: { chart: spec.id, points: 0 } },
      h('figcaption', {}, h('strong', { text: spec.title }), ' ', h('span', { class: 'muted', text: spec.unit })),
      this.plotEl, this.emptyEl);
    parent.append(this.el);
    this.labels = [];
    this.plot = null;
    this.observer = new ResizeObserver(() => this.#resize());
    this.observer.observe(this.el);
  }

  #width() {
    return Math.max(240, Math.floor(this.plotEl.clientWidth || this.el.clientWidth || 320));
  }

  #resize() {
    if (this.plot !== null) {
      const w = this.#width();
      if (Math.abs(w - this.plot.width) > 1) this.plot.setSize({ width: w, height: this.plot.height });
    }
  }

  #create(series) {
    this.plot?.destroy();
    this.labels = series.map((s) => s.label);
    const fmt = this.format;
    const zero = this.spec.zero !== false;
    const el = this.el;
    const opts = {
      width: this.#width(),
      height: 180,
      scales: {
        x: { time: true, range: () => [this.range.start / 1000, this.range.end / 1000] },
        y: { range: (_u, min, max) => {
          if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
          const lo = zero ? Math.min(0, min) : min;
          const hi = max === lo ? lo + (Math.abs(lo) || 1) : max;
          const pad = zero ? 0 : (hi - lo) * 0.1;
          return [lo - pad, hi + (hi - lo) * 0.08];
        } },
      },
      series: [
        { value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toLocaleTimeString()) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          ...(s.dash === undefined ? {} : { dash: s.dash }),
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => fmt(v),
        })),
      ],
      axes: [
        { stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' } },
        { stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' }, size: 64, values: tickFormatter(this.spec.fmt), ...(this.spec.fmt === 'int' ? { incrs: INT_INCREMENTS } : {}) },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      hooks: {
        draw: [(u) => {
          let n = 0;
          for (let k = 1; k < u.data.length; k++) for (const v of u.data[k]) if (v !== null && v !== undefined) n++;
          el.dataset.drawnPoints = String(n);
        }],
      },
    };
    this.plot = new uPlot(opts, [[], ...series.map(() => [])], this.plotEl);
  }

  /**
   * Draws `data`: one {t: ms[], v: number[]} (or null) per series in `series` ({label, dash}).
   * The series list may change (drift features): the plot is rebuilt then.
   */
  update(series, data) {
    if (this.plot === null || series.length !== this.labels.length || series.some((s, i) => s.label !== this.labels[i])) this.#create(series);
    const joined = joinSeries(data);
    let points = 0;
    const latest = [];
    for (let k = 1; k < joined.length; k++) {
      let last = null;
      for (const v of joined[k]) if (v !== null) { points++; last = v; }
      latest.push(`${series[k - 1].label} ${this.format(last)}`);
    }
    this.el.dataset.points = String(points);
    this.el.classList.toggle('is-empty', points === 0);
    this.plotEl.setAttribute('aria-label', points === 0 ? `${this.spec.title}: no data in this range yet` : `${this.spec.title}, latest: ${latest.join(', ')}`);
    this.plot.setData(joined);
  }

  /** Redraw with the same data (the x range moved). */
  redraw() {
    if (this.plot !== null) this.plot.setScale('x', { min: this.range.start / 1000, max: this.range.end / 1000 });
  }

  destroy() {
    this.observer.disconnect();
    this.plot?.destroy();
    this.el.remove();
  }
}
