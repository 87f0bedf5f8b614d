// One site: its latest values and live charts of its series and derived indices, over a
// chosen time range and rollup (`every=`), fed by /api/v1/sites/{id}/series/{variable} and
// then by the site's channel.

import { api, ApiError } from "../api.js";
import { SeriesChart } from "../charts.js";
import { ago, choice, classColor, h, num, when } from "../format.js";

const RANGES = [["1h", "Last hour"], ["6h", "Last 6 hours"], ["24h", "Last 24 hours"],
                ["7d", "Last 7 days"], ["30d", "Last 30 days"], ["90d", "Last 90 days"]];
const ROLLUPS = [["auto", "Automatic"], ["raw", "Raw readings"], ["1m", "1 minute"],
                 ["10m", "10 minutes"], ["1h", "1 hour"], ["6h", "6 hours"], ["1d", "1 day"]];
const MS = { m: 60e3, h: 3600e3, d: 86400e3 };
const ms = (text) => Number(text.slice(0, -1)) * MS[text.slice(-1)];
// Automatic: raw up to 6 hours, then buckets that keep a chart at a few hundred points.
const AUTO = { "1h": "raw", "6h": "raw", "24h": "10m", "7d": "1h", "30d": "6h", "90d": "1d" };
const MAX_RAW = 20000;

/** The variables to chart: the pack's chart hints first, then the others the site has. */
function chartVariables(store, siteId) {
  const hinted = store.hints(siteId).charts || [];
  const has = [...(store.latest.get(siteId)?.keys() || [])];
  return [...hinted.filter((v) => has.includes(v)), ...has.filter((v) => !hinted.includes(v)).sort()];
}

export function mount(root, { store, stream }, [siteId]) {
  const prefs = JSON.parse(sessionStorage.getItem("riskcast.site") || "{}");
  let range = prefs.range || "24h";
  let rollup = prefs.rollup || "auto";
  let alive = true;
  const charts = new Map();
  const heading = h("h1", {}, siteId);
  const meta = h("p", { class: "muted" });
  const latestBody = h("tbody");
  const alertsBox = h("ul", { class: "site-alerts", id: "site-alerts", "aria-label": "Open alerts" });
  const chartsBox = h("div", { class: "charts" });
  const controls = h("div", { class: "controls" },
    choice("Time range", "range", RANGES, range, (v) => { range = v; save(); loadCharts(); }),
    choice("Rollup", "rollup", ROLLUPS, rollup, (v) => { rollup = v; save(); loadCharts(); }));
  root.append(h("p", {}, h("a", { href: "#/" }, "← All sites")), heading, meta, alertsBox,
    h("h2", {}, "Latest values"),
    h("table", { class: "latest", id: "latest" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Series"), h("th", { scope: "col" }, "Value"),
        h("th", { scope: "col" }, "Quality"), h("th", { scope: "col" }, "Time"))), latestBody),
    h("h2", {}, "Charts"), controls, chartsBox);

  function save() {
    sessionStorage.setItem("riskcast.site", JSON.stringify({ range, rollup }));
  }

  function every() {
    const r = rollup === "auto" ? AUTO[range] : rollup;
    return r === "raw" ? null : r;
  }

  function renderHead() {
    const site = store.sites.get(siteId);
    if (!site) return;
    heading.textContent = site.name || site.id;
    const where = site.lat === null || site.lat === undefined ? "no coordinates"
      : `${num(site.lat, 4)}, ${num(site.lon, 4)}`;
    const tags = Object.entries(site.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    meta.textContent = `${site.id} · ${site.pack} · ${where}${tags ? ` · ${tags}` : ""}`;
  }

  function row(variable, r) {
    const hints = store.hints(siteId);
    const labels = store.classLabels(variable, hints);
    const v = store.variables.get(variable);
    const text = labels ? `${labels[Math.round(r.value)] ?? num(r.value)} (${num(r.value)})`
      : `${num(r.value)} ${store.unit(variable)}`;
    return h("tr", { "data-variable": variable },
      h("th", { scope: "row", title: v?.description || "" }, variable),
      h("td", { class: "value" },
        labels ? h("i", { class: "dot", style: { background: classColor(Math.round(r.value), labels.length) } }) : null,
        text),
      h("td", { class: `q-${r.quality}` }, r.quality),
      h("td", { title: r.time }, `${when(r.time)} (${ago(r.time)})`));
  }

  function renderLatest() {
    const latest = store.latest.get(siteId) || new Map();
    const names = [...latest.keys()].sort();
    latestBody.replaceChildren(...(names.length ? names.map((n) => row(n, latest.get(n)))
      : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No readings yet."))]));
  }

  async function points(variable, from, to) {
    const path = `/api/v1/sites/${encodeURIComponent(siteId)}/series/${encodeURIComponent(variable)}`;
    const query = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    const e = every();
    if (e) return (await api(path, { query: { ...query, every: e } })).buckets;
    const out = [];
    let cursor = null;
    do {
      const page = await api(path, { query: { ...query, cursor, limit: 5000 } });
      out.push(...page.points);
      cursor = page.next_cursor;
    } while (cursor && out.length < MAX_RAW && alive);
    return out;
  }

  // The site's open alerts, above its values; the alerts page has the actions.
  async function loadAlerts() {
    const answer = await api("/api/v1/alerts", { query: { site: siteId, limit: 100 } });
    if (!alive) return;
    alertsBox.replaceChildren(...answer.alerts.filter((a) => a.state !== "resolved").map((a) =>
      h("li", {}, h("span", { class: `badge ${a.severity}` }, a.severity), " ",
        h("span", { class: `state-${a.state}` }, a.state), " ",
        a.annotations?.summary || a.rule, " · ", h("a", { href: "#/alerts" }, "alerts"))));
  }

  let generation = 0;
  async function loadCharts() {
    const mine = ++generation;
    charts.forEach((c) => c.chart.destroy());
    charts.clear();
    chartsBox.replaceChildren();
    const to = Date.now() + 5 * 60e3;  // the server allows a little clock skew ahead
    const from = Date.now() - ms(range);
    const e = every();
    for (const variable of chartVariables(store, siteId)) {
      const plot = h("div", { class: "plot", "data-variable": variable });
      const v = store.variables.get(variable);
      chartsBox.append(h("figure", { class: "chart" },
        h("figcaption", {}, h("strong", {}, variable), " ",
          h("span", { class: "muted small" }, `${v?.description || ""}${e ? ` · mean per ${e}` : ""}`)),
        plot));
      const chart = new SeriesChart(plot, { label: variable, unit: store.unit(variable),
                                            every: e ? ms(e) : null });
      chart.setWindow(from, Date.now());
      // Live points that arrive while the range is read are kept and added after it.
      const entry = { chart, pending: [], ready: false };
      charts.set(variable, entry);
      points(variable, from, to).then((rows) => {
        if (mine !== generation) return;
        chart.load(rows);
        entry.pending.forEach((r) => chart.add(r.time, r.value));
        entry.ready = true;
      }).catch((err) => {
        if (mine === generation) plot.append(h("p", { class: "error" }, String(err.message)));
      });
    }
  }

  const onReadings = (e) => {
    if (e.detail.site !== siteId) return;
    renderLatest();
    let added = false;
    for (const r of e.detail.readings) {
      if (r.quality === "bad" && every()) continue; // rollups leave bad readings out
      const entry = charts.get(r.variable);
      if (!entry) { added = generation > 0; continue; }
      if (entry.ready) entry.chart.add(r.time, r.value);
      else entry.pending.push(r);
    }
    if (added) loadCharts(); // a series the site did not have before
  };
  const onSites = () => {
    if (!store.sites.has(siteId)) {
      heading.textContent = `No site ${siteId}`;
      return;
    }
    renderHead();
  };
  // A gap in the stream or a fresh subscription: read the range again, so the charts hold
  // what the server holds (the latest values are the store's business).
  const onResync = (e) => {
    if (e.detail === `site.${siteId}` && generation > 0) loadCharts();
    if (e.detail === "alerts") loadAlerts().catch(() => {});
  };

  store.addEventListener("readings", onReadings);
  store.addEventListener("sites", onSites);
  stream.addEventListener("resync", onResync);
  stream.subscribe(["alerts"]);
  const offAlerts = stream.on("alerts", (data) => {
    if (data.site === siteId) loadAlerts().catch(() => {});
  });
  loadAlerts().catch(() => {}); // a key without the alerts scope simply sees none
  renderHead();
  renderLatest();
  store.loadLatest(siteId).then(() => { if (alive) loadCharts(); }).catch((err) => {
    if (err instanceof ApiError && err.status === 404) heading.textContent = `No site ${siteId}`;
  });
  // Each chart's window slides with the clock; old points fall off.
  const timer = setInterval(() => {
    charts.forEach(({ chart }) => { chart.setWindow(Date.now() - ms(range), Date.now()); chart.draw(); });
    renderLatest();
  }, 30000);
  return () => {
    alive = false;
    clearInterval(timer);
    charts.forEach((c) => c.chart.destroy());
    store.removeEventListener("readings", onReadings);
    store.removeEventListener("sites", onSites);
    stream.removeEventListener("resync", onResync);
    offAlerts();
  };
}
