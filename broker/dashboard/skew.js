// Skew over time: one uPlot line per device, in seconds against the hub's clock (0), over the last hour.
import uPlot from './vendor/uPlot.esm.js';
import { hubNow } from './api.js';

const WINDOW_S = 3600;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

/** Draws the hub's clock as a dashed line at 0. */
function zeroLine(u) {
  const y = Math.round(u.valToPos(0, 'y', true));
  if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = '#1d2330';
  ctx.setLineDash([6, 4]);
  ctx.beginPath();
  ctx.moveTo(u.bbox.left, y);
  ctx.lineTo(u.bbox.left + u.bbox.width, y);
  ctx.stroke();
  ctx.restore();
}

function padded(lo, hi) {
  const pad = (hi - lo) * 0.1;
  return [lo - pad, hi + pad];
}

export function skewPlot(container) {
  let ids = [];
  let t = []; // seconds since the epoch (hub clock)
  let series = {}; // id -> skew seconds or null, aligned with t
  let plot;

  function build() {
    plot?.destroy();
    const opts = {
      width: Math.max(320, container.clientWidth),
      height: 260,
      scales: {
        // Always the last hour of the hub's clock, and always 0 (the hub) and ±1 s in view.
        x: { time: true, range: () => [hubNow() / 1000 - WINDOW_S, hubNow() / 1000] },
        y: { range: (_u, min, max) => padded(Math.min(min ?? 0, -1), Math.max(max ?? 0, 1)) },
      },
      series: [{}, ...ids.map((id, i) => ({ label: id, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, value: (_u, v) => (v === null ? '—' : `${v.toFixed(2)} s`) }))],
      axes: [{}, { label: 'skew (s)', values: (_u, ticks) => ticks.map((v) => `${v} s`) }],
      hooks: { draw: [zeroLine] },
    };
    plot = new uPlot(opts, data(), container);
    container.dataset.series = ids.join(',');
  }

  function data() {
    return [t, ...ids.map((id) => series[id])];
  }

  function trim() {
    const from = t.findIndex((x) => x >= t[t.length - 1] - WINDOW_S);
    if (from <= 0) return;
    t = t.slice(from);
    for (const id of Object.keys(series)) series[id] = series[id].slice(from);
  }

  /** Appends samples ({t: [ms], series: {id: [s|null]}}) newer than those held; a new device rebuilds the plot. */
  function add(history, replace) {
    if (replace) {
      t = [];
      series = {};
    }
    const last = t.length > 0 ? t[t.length - 1] : -Infinity;
    const known = new Set(Object.keys(series));
    for (const id of Object.keys(history.series)) if (!known.has(id)) series[id] = t.map(() => null);
    history.t.forEach((ms, i) => {
      if (ms / 1000 <= last) return;
      t.push(ms / 1000);
      for (const id of Object.keys(series)) series[id].push(history.series[id]?.[i] ?? null);
    });
    trim();
    const nextIds = Object.keys(series).sort();
    if (plot === undefined || nextIds.join(',') !== ids.join(',')) {
      ids = nextIds;
      build();
    } else {
      plot.setData(data());
    }
  }

  /** Every device of the fleet view gets a line, even before its first sample. */
  function devices(list) {
    const missing = list.filter((id) => !(id in series));
    if (missing.length > 0) add({ t: [], series: Object.fromEntries(missing.map((id) => [id, []])) }, false);
  }

  window.addEventListener('resize', () => plot?.setSize({ width: Math.max(320, container.clientWidth), height: 260 }));
  return { load: (history) => add(history, true), append: (delta) => add(delta, false), devices };
}
