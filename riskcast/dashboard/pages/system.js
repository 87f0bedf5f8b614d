// System: the server's own counters from /api/v1/system (ingest, commits, streams, derive,
// alerts, MQTT, pollers), read every two seconds; rates are differences between two reads.

import { api } from "../api.js";
import { RateChart } from "../charts.js";
import { h, num } from "../format.js";

const EVERY_MS = 2000;

function rows(obj, prefix = "") {
  // Nested counters flattened to "ingest.accepted" rows; lists and nulls are left out.
  const out = [];
  for (const [k, v] of Object.entries(obj || {})) {
    if (v && typeof v === "object" && !Array.isArray(v)) out.push(...rows(v, `${prefix}${k}.`));
    else if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out.push([`${prefix}${k}`, v]);
  }
  return out;
}

export function mount(root) {
  let alive = true;
  let last = null;
  const tiles = h("div", { class: "tiles", id: "system-tiles" });
  const plotBox = h("div", { class: "plot" });
  const table = h("tbody");
  const error = h("p", { class: "error", role: "status" });
  root.append(h("h1", {}, "System"), error, tiles,
    h("figure", { class: "chart" }, h("figcaption", {}, h("strong", {}, "Per second"),
      h("span", { class: "muted small" }, " readings accepted, stream deliveries")), plotBox),
    h("h2", {}, "All counters"),
    h("table", { class: "counters" }, h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "counter"), h("th", { scope: "col" }, "value"))), table));
  const chart = new RateChart(plotBox, ["readings/s", "deliveries/s"]);

  function tile(id, label, value, note) {
    return h("div", { class: "tile", id }, h("span", { class: "muted small" }, label),
      h("strong", {}, value), note ? h("span", { class: "muted small" }, note) : null);
  }

  async function poll() {
    let s;
    try {
      s = await api("/api/v1/system");
    } catch (err) {
      error.textContent = `Cannot read /api/v1/system: ${err.message}`;
      return;
    }
    if (!alive) return;
    error.textContent = "";
    const now = Date.now();
    let rate = null;
    let deliveries = null;
    if (last) {
      const dt = (now - last.at) / 1000;
      rate = Math.max(0, (s.ingest.accepted - last.s.ingest.accepted) / dt);
      deliveries = Math.max(0, (s.streams.delivered - last.s.streams.delivered) / dt);
      chart.push([rate, deliveries]);
    }
    last = { s, at: now };
    const up = s.uptime_s;
    tiles.replaceChildren(
      tile("t-rate", "Ingest rate", rate === null ? "…" : `${num(rate, 1)}/s`,
        `${s.ingest.accepted.toLocaleString()} accepted, ${s.ingest.rejected.toLocaleString()} refused`),
      tile("t-queue", "Waiting to commit", String(s.ingest.pending), `${s.ingest.commits.toLocaleString()} commits`),
      tile("t-conns", "Stream connections", String(s.streams.subscribers),
        `${s.streams.channels} channels, ${s.streams.dropped_slow} dropped as slow`),
      tile("t-deliv", "Deliveries", deliveries === null ? "…" : `${num(deliveries, 1)}/s`,
        `${s.streams.delivered.toLocaleString()} in all`),
      tile("t-sites", "Sites", String(s.sites), `up ${up < 3600 ? `${num(up / 60, 1)} min` : `${num(up / 3600, 1)} h`}`),
      tile("t-derive", "Derivations", String(s.derive.runs), `${s.derive.failures} failed`),
      s.alerts?.events ? tile("t-alertq", "Alert queue", String(s.alerts.events.queued ?? 0),
        `${s.alerts.events.dropped ?? 0} dropped`) : "");
    table.replaceChildren(...rows(s).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k),
      h("td", {}, typeof v === "number" ? v.toLocaleString() : String(v)))));
  }

  poll();
  const timer = setInterval(poll, EVERY_MS);
  return () => { alive = false; clearInterval(timer); chart.destroy(); };
}
