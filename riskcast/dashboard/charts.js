// Time-series charts on uPlot (vendored in vendor/, loaded by index.html as the global
// `uPlot`): small, fast, canvas-based, and it needs no build step. A chart holds raw points or
// rollup buckets and takes live points as they arrive, so the page never re-reads a range
// just to add one value.

const COLORS = { line: "#2b6cb0", band: "rgba(43,108,176,0.35)" };

function sizeOf(el) {
  const width = Math.max(240, Math.floor(el.clientWidth || 300));
  return { width, height: width < 500 ? 160 : 200 };
}

/** A line chart in `el` for one variable. `every` is null (raw) or the bucket size in ms. */
export class SeriesChart {
  constructor(el, { label, unit, every }) {
    this.el = el;
    this.every = every;
    this.points = new Map(); // time ms -> {mean, min, max, count}
    this.window = null;      // [from, to] in ms: the x axis shows the chosen range
    // uPlot draws the points themselves only where they are sparse (one reading stays visible).
    const series = [{}, { label, stroke: COLORS.line, width: 1.5 }];
    if (every) {
      series.push({ label: "min", stroke: COLORS.band, width: 1, dash: [4, 4], points: { show: false } });
      series.push({ label: "max", stroke: COLORS.band, width: 1, dash: [4, 4], points: { show: false } });
    }
    const opts = {
      ...sizeOf(el),
      series,
      legend: { live: true }, // hovering shows the time and value under the chart
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true, range: (u, min, max) => (this.window
        ? [this.window[0] / 1000, this.window[1] / 1000] : [min, max]) } },
      axes: [{}, { label: unit || undefined, size: 64 }],
    };
    this.plot = new window.uPlot(opts, this.columns(), el);
    this.resize = () => this.plot.setSize(sizeOf(el));
    window.addEventListener("resize", this.resize);
  }

  /** Replace the data: raw points `[{time, value}]` or buckets `[{start, mean, min, max, count}]`. */
  load(rows) {
    this.points.clear();
    for (const r of rows) {
      const t = Date.parse(r.time ?? r.start);
      this.points.set(t, this.every ? { mean: r.mean, min: r.min, max: r.max, count: r.count }
                                    : { mean: r.value, min: r.value, max: r.value, count: 1 });
    }
    this.draw();
  }

  /** Add one live reading: a raw point, or folded into its bucket's mean, min and max. */
  add(time, value) {
    const t = Date.parse(time);
    if (this.window && t > this.window[1]) this.window[1] = t; // the window slides with the data
    if (!this.every) {
      this.points.set(t, { mean: value, min: value, max: value, count: 1 });
    } else {
      const start = Math.floor(t / this.every) * this.every;
      const b = this.points.get(start);
      if (!b) this.points.set(start, { mean: value, min: value, max: value, count: 1 });
      else {
        b.mean = (b.mean * b.count + value) / (b.count + 1);
        b.min = Math.min(b.min, value);
        b.max = Math.max(b.max, value);
        b.count += 1;
      }
    }
    this.draw();
  }

  /** Show `[from, to]` (ms) and drop the points that fell out of it. */
  setWindow(from, to) {
    this.window = [from, to];
    for (const t of this.points.keys()) if (t < from) this.points.delete(t);
  }

  columns() {
    const times = [...this.points.keys()].sort((a, b) => a - b);
    const cols = [times.map((t) => t / 1000), times.map((t) => this.points.get(t).mean)];
    if (this.every) {
      cols.push(times.map((t) => this.points.get(t).min));
      cols.push(times.map((t) => this.points.get(t).max));
    }
    return cols;
  }

  draw() {
    this.plot.setData(this.columns());
    this.el.dataset.points = String(this.points.size);
  }

  destroy() {
    window.removeEventListener("resize", this.resize);
    this.plot.destroy();
  }
}

/** A rolling chart of a few numbers over the page's lifetime (the system page's rates). */
export class RateChart {
  constructor(el, labels, max = 300) {
    this.el = el;
    this.max = max;
    this.data = [[], ...labels.map(() => [])];
    const palette = ["#2b6cb0", "#c05621", "#2f855a"];
    const series = [{}, ...labels.map((label, i) => ({ label, stroke: palette[i % 3], width: 1.5 }))];
    this.plot = new window.uPlot({ ...sizeOf(el), series, scales: { x: { time: true } },
                                   axes: [{}, { size: 60 }] }, this.data, el);
    this.resize = () => this.plot.setSize(sizeOf(el));
    window.addEventListener("resize", this.resize);
  }

  push(values) {
    this.data[0].push(Date.now() / 1000);
    values.forEach((v, i) => this.data[i + 1].push(v));
    if (this.data[0].length > this.max) this.data.forEach((col) => col.shift());
    this.plot.setData(this.data);
  }

  destroy() {
    window.removeEventListener("resize", this.resize);
    this.plot.destroy();
  }
}
