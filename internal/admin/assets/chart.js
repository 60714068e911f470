// A small time-series chart on <canvas>: a fixed 15-minute window, a y
// axis with round ticks, filled or plain lines, gaps for missing points,
// and a crosshair that shows the values under the pointer in the legend.
// It redraws itself when the canvas is resized, the pixel ratio changes
// (zoom, moving to another screen) or the colour scheme flips.

import { axis, clock } from './format.js';

const PAD = { top: 8, right: 8, bottom: 20, left: 8 };

// niceScale returns a step and a top for an axis from 0 to at least max
// with about `ticks` intervals, in steps of 1, 2, 2.5 or 5 times a power of
// ten — of `base` units (1024 for bytes, so axes read 256 MiB, not 268 MB).
export function niceScale(max, ticks = 4, base = 1000) {
  let unit = 1;
  if (base !== 1000) {
    while (max / unit >= base) unit *= base;
  }
  const raw = max / unit / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  const step = nice * mag * unit;
  return { step, top: Math.ceil(max / step - 1e-9) * step };
}

export class Chart {
  // canvas is the <canvas>; legend an element the legend is written into.
  // opts.series lists what to draw: {key, label, color (a CSS custom
  // property), fill}. opts.format turns a value into text; opts.max fixes
  // the top of the y axis (1 for ratios), else opts.floor is the smallest
  // top; opts.base is 1024 for byte axes.
  constructor(canvas, legend, opts) {
    this.canvas = canvas;
    this.opts = opts;
    this.data = null;
    this.hover = -1;
    this.legendValues = [];
    this.legendTime = null;
    if (legend) this.buildLegend(legend);

    const redraw = () => this.draw();
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(redraw).observe(canvas);
    window.addEventListener('resize', redraw);
    window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', redraw);
    canvas.addEventListener('pointermove', (e) => this.pointer(e));
    canvas.addEventListener('pointerleave', () => {
      this.hover = -1;
      this.draw();
    });
  }

  buildLegend(el) {
    el.replaceChildren();
    for (const s of this.opts.series) {
      const item = document.createElement('span');
      item.className = 'item';
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = `var(${s.color})`;
      const value = document.createElement('span');
      value.className = 'value';
      value.textContent = '—';
      item.append(sw, document.createTextNode(s.label + ' '), value);
      el.append(item);
      this.legendValues.push(value);
    }
    this.legendTime = document.createElement('span');
    this.legendTime.className = 'time';
    el.append(this.legendTime);
  }

  // set replaces the data and redraws. data is {end (ms), interval (s),
  // window (s), values: {key: [number|null, …]}}, oldest point first.
  set(data) {
    this.data = data;
    this.draw();
  }

  // length is the number of points in the longest series.
  length() {
    if (!this.data) return 0;
    return Math.max(0, ...this.opts.series.map((s) => (this.data.values[s.key] || []).length));
  }

  // time returns the end time (ms) of point i of n.
  time(i, n) {
    return this.data.end - (n - 1 - i) * this.data.interval * 1000;
  }

  pointer(e) {
    const n = this.length();
    if (!n || !this.plot) return;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const { left, width } = this.plot;
    if (x < left || x > left + width) {
      this.hover = -1;
    } else {
      const { end, interval, window: win } = this.data;
      const t = end - win * 1000 + ((x - left) / width) * win * 1000;
      const i = n - 1 - Math.round((end - t) / (interval * 1000));
      this.hover = i >= 0 && i < n ? i : -1;
    }
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (!w || !h) return;
    // Size the backing store in device pixels and draw in CSS pixels.
    const dpr = window.devicePixelRatio || 1;
    const bw = Math.round(w * dpr);
    const bh = Math.round(h * dpr);
    if (c.width !== bw || c.height !== bh) {
      c.width = bw;
      c.height = bh;
    }
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const css = getComputedStyle(c);
    const color = (name) => css.getPropertyValue(name).trim() || '#888';
    ctx.font = `11px ${css.getPropertyValue('--sans').trim() || 'sans-serif'}`;

    const { series, format } = this.opts;
    const n = this.length();
    const values = series.map((s) => (this.data && this.data.values[s.key]) || []);

    // Y scale: fixed, or the largest value rounded up to a nice step.
    let top;
    let step;
    if (this.opts.max) {
      top = this.opts.max;
      step = top / 4;
    } else {
      let max = this.opts.floor || 1;
      for (const vs of values) for (const v of vs) if (v != null && v > max) max = v;
      ({ step, top } = niceScale(max, 4, this.opts.base || 1000));
    }
    const ticks = [];
    for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
    const labels = ticks.map((v) => axis(format(v)));
    const left = PAD.left + Math.ceil(Math.max(...labels.map((l) => ctx.measureText(l).width))) + 6;
    const plot = { left, top: PAD.top, width: Math.max(1, w - left - PAD.right), height: Math.max(1, h - PAD.top - PAD.bottom) };
    this.plot = plot;
    const y = (v) => plot.top + plot.height - (v / top) * plot.height;

    // Horizontal grid lines with their labels; half-pixel offsets keep
    // one-pixel lines sharp.
    ctx.lineWidth = 1;
    ctx.strokeStyle = color('--grid');
    ctx.fillStyle = color('--muted');
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ticks.forEach((v, k) => {
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(plot.left, yy);
      ctx.lineTo(plot.left + plot.width, yy);
      ctx.stroke();
      ctx.fillText(labels[k], plot.left - 6, yy);
    });

    // The time axis always spans the whole window, so a young process
    // draws its few points at the right and nothing rescales as it ages.
    const win = (this.data ? this.data.window : 900) * 1000;
    const end = this.data ? this.data.end : Date.now();
    const x = (t) => plot.left + ((t - (end - win)) / win) * plot.width;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const every = 5 * 60 * 1000;
    for (let t = Math.ceil((end - win) / every) * every; t <= end; t += every) {
      const xx = Math.round(x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(xx, plot.top);
      ctx.lineTo(xx, plot.top + plot.height + 3);
      ctx.stroke();
      const label = clock(new Date(t)).slice(0, 5);
      const half = ctx.measureText(label).width / 2;
      if (xx - half >= plot.left - 4 && xx + half <= w) ctx.fillText(label, xx, plot.top + plot.height + 5);
    }

    // The series: fills first (so lines stay on top), each in runs
    // between missing points.
    const runs = (vs) => {
      const out = [];
      let run = [];
      vs.forEach((v, i) => {
        if (v == null || !Number.isFinite(v)) {
          if (run.length) out.push(run);
          run = [];
        } else {
          run.push([x(this.time(i, vs.length)), y(Math.min(v, top))]);
        }
      });
      if (run.length) out.push(run);
      return out;
    };
    let drawn = 0;
    ctx.lineJoin = 'round';
    series.forEach((s, k) => {
      if (!s.fill) return;
      ctx.fillStyle = color(s.color);
      ctx.globalAlpha = 0.14;
      for (const run of runs(values[k])) {
        ctx.beginPath();
        ctx.moveTo(run[0][0], y(0));
        for (const [px, py] of run) ctx.lineTo(px, py);
        ctx.lineTo(run[run.length - 1][0], y(0));
        ctx.closePath();
        ctx.fill();
      }
      ctx.globalAlpha = 1;
    });
    series.forEach((s, k) => {
      ctx.strokeStyle = color(s.color);
      ctx.lineWidth = s.fill ? 1.5 : 1.25;
      for (const run of runs(values[k])) {
        ctx.beginPath();
        run.forEach(([px, py], j) => (j ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
        if (run.length === 1) ctx.lineTo(run[0][0] + 1, run[0][1]);
        ctx.stroke();
        drawn += run.length;
      }
    });

    // The crosshair and the legend: the hovered point, else the latest.
    const at = this.hover >= 0 && this.hover < n ? this.hover : n - 1;
    if (this.hover >= 0 && this.hover < n) {
      const xx = Math.round(x(this.time(at, n))) + 0.5;
      ctx.strokeStyle = color('--muted');
      ctx.globalAlpha = 0.6;
      ctx.beginPath();
      ctx.moveTo(xx, plot.top);
      ctx.lineTo(xx, plot.top + plot.height);
      ctx.stroke();
      ctx.globalAlpha = 1;
      series.forEach((s, k) => {
        const v = values[k][at];
        if (v == null || !Number.isFinite(v)) return;
        ctx.fillStyle = color(s.color);
        ctx.beginPath();
        ctx.arc(xx, y(Math.min(v, top)), 3, 0, 2 * Math.PI);
        ctx.fill();
      });
    }
    this.legendValues.forEach((el, k) => {
      const v = at >= 0 ? values[k][at] : null;
      el.textContent = v == null || !Number.isFinite(v) ? '—' : format(v);
    });
    if (this.legendTime) this.legendTime.textContent = n ? (this.hover >= 0 ? clock(new Date(this.time(at, n))) : 'now') : '';

    // What a test (or a screen reader) can check without reading pixels.
    c.dataset.points = String(n);
    c.dataset.drawn = String(drawn);
  }
}
