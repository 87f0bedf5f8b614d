// riskcast live overview: sites with their latest readings, updated over the WebSocket stream.
// Reconnects with `since` so nothing published while away is missed.
"use strict";
const state = { sites: new Map(), units: new Map(), seq: {}, ws: null, retry: 500 };
const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
};

async function getJSON(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

function card(site) {
  const c = el("div", { class: "card", id: `site-${site.id}` });
  c.append(el("h2", {}, site.name || site.id));
  const where = site.lat === null ? site.pack : `${site.pack} · ${site.lat.toFixed(2)}, ${site.lon.toFixed(2)}`;
  c.append(el("div", { class: "where" }, where));
  c.append(el("table"));
  return c;
}

function show(siteId, variable, value, quality, time) {
  const c = document.getElementById(`site-${siteId}`);
  if (!c) return;
  const table = c.querySelector("table");
  let row = table.querySelector(`tr[data-v="${variable}"]`);
  if (!row) {
    row = el("tr", { "data-v": variable });
    row.append(el("td", {}, variable), el("td", { class: "v" }));
    const rows = [...table.rows, row].sort((a, b) => a.dataset.v.localeCompare(b.dataset.v));
    rows.forEach((r) => table.append(r));
  }
  const cell = row.cells[1];
  const unit = state.units.get(variable) || "";
  cell.textContent = `${Number(value).toFixed(2).replace(/\.?0+$/, "")} ${unit}`;
  cell.className = `v q-${quality}`;
  cell.title = `${quality} at ${time}`;
  cell.classList.remove("flash"); void cell.offsetWidth; cell.classList.add("flash");
}

async function load() {
  const [sites, vars] = await Promise.all([getJSON("/api/v1/sites"), getJSON("/api/v1/variables")]);
  vars.variables.forEach((v) => state.units.set(v.name, v.unit));
  const grid = document.getElementById("sites");
  for (const site of sites.sites) {
    if (!state.sites.has(site.id)) { state.sites.set(site.id, site); grid.append(card(site)); }
  }
  document.getElementById("count").textContent = state.sites.size;
  await Promise.all([...state.sites.keys()].map(async (id) => {
    const latest = await getJSON(`/api/v1/sites/${encodeURIComponent(id)}/latest`);
    Object.entries(latest.latest).forEach(([v, r]) => show(id, v, r.value, r.quality, r.time));
  }));
}

function connected(on) {
  const c = document.getElementById("conn");
  c.className = `conn ${on ? "on" : "off"}`;
  c.textContent = on ? "live" : "reconnecting…";
  document.getElementById("offline").hidden = on;
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => {
    state.retry = 500;
    connected(true);
    const channels = ["system", ...[...state.sites.keys()].map((id) => `site.${id}`)];
    ws.send(JSON.stringify({ op: "subscribe", channels, since: state.seq }));
  };
  ws.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.op) return; // acknowledgements, pongs and errors
    state.seq[ev.channel] = ev.seq;
    const d = ev.data;
    if (d.type === "readings") d.readings.forEach((r) => show(d.site, r.variable, r.value, r.quality, r.time));
    if (d.type === "site.created") load().then(() => ws.send(JSON.stringify({ op: "subscribe", channels: [`site.${d.site}`] })));
  };
  ws.onclose = () => {
    connected(false);
    setTimeout(() => load().catch(() => {}).finally(connect), state.retry);
    state.retry = Math.min(state.retry * 2, 10000);
  };
}

load().catch(() => connected(false)).finally(connect);
