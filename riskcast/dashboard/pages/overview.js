// The overview: every site on a map drawn from its latitude and longitude (an SVG with a
// graticule, no tiles, so it works offline), coloured by its current class or by whether it
// has fresh data, and the same sites as a list (the fallback for sites without coordinates,
// and the accessible view). Both update live from the store.

import { api } from "../api.js";
import { ago, classColor, h, num, STATUS_COLORS, statusColor, svg } from "../format.js";
import { landRings } from "../land.js";

const W = 1000;

function bounds(sites) {
  let [w, e, s, n] = [180, -180, 90, -90];
  for (const site of sites) {
    w = Math.min(w, site.lon); e = Math.max(e, site.lon);
    s = Math.min(s, site.lat); n = Math.max(n, site.lat);
  }
  // Pad, and never zoom in closer than 2 degrees (one site alone still gets a map).
  const padLon = Math.max((e - w) * 0.12, 1);
  const padLat = Math.max((n - s) * 0.12, 1);
  return { w: Math.max(-180, w - padLon), e: Math.min(180, e + padLon),
           s: Math.max(-85, s - padLat), n: Math.min(85, n + padLat) };
}

function step(span) {
  return [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 45].find((d) => span / d <= 8) || 60;
}

/** The map: an equirectangular projection scaled by cos(latitude) at the middle. */
function drawMap(sites, store, firing, land) {
  const b = bounds(sites);
  const k = Math.cos(((b.n + b.s) / 2) * Math.PI / 180);
  const scale = W / ((b.e - b.w) * k);
  const height = Math.min(Math.max((b.n - b.s) * scale, 260), 620);
  const yScale = height / (b.n - b.s);
  const x = (lon) => (lon - b.w) * k * scale;
  const y = (lat) => (b.n - lat) * yScale;
  const map = svg("svg", { viewBox: `0 0 ${W} ${Math.round(height)}`, class: "map", role: "group",
                           "aria-label": `Map of ${sites.length} sites` });
  map.append(svg("rect", { x: 0, y: 0, width: W, height, class: "sea" }));
  if (land) {
    const d = land.map((ring) => `M${ring.map(([lon, lat]) => `${x(lon).toFixed(1)},${y(lat).toFixed(1)}`)
      .join("L")}Z`).join("");
    map.append(svg("path", { d, class: "land", "aria-hidden": "true" }));
  }
  const grid = svg("g", { class: "graticule" });
  const dLon = step(b.e - b.w);
  for (let lon = Math.ceil(b.w / dLon) * dLon; lon <= b.e; lon += dLon) {
    grid.append(svg("line", { x1: x(lon), x2: x(lon), y1: 0, y2: height }),
                svg("text", { x: x(lon) + 4, y: height - 6 }, `${num(lon, 2)}°`));
  }
  const dLat = step(b.n - b.s);
  for (let lat = Math.ceil(b.s / dLat) * dLat; lat <= b.n; lat += dLat) {
    grid.append(svg("line", { x1: 0, x2: W, y1: y(lat), y2: y(lat) }),
                svg("text", { x: 4, y: y(lat) - 4 }, `${num(lat, 2)}°`));
  }
  map.append(grid);
  // Every point's area is reserved first, so no label covers a point.
  const placed = sites.map((site) => ({ x: x(site.lon) - 14, y: y(site.lat) - 14, w: 28, h: 28 }));
  for (const site of sites) {
    const status = store.status(site.id);
    const [cx, cy] = [x(site.lon), y(site.lat)];
    const point = svg("a", { href: `#/site/${encodeURIComponent(site.id)}`, class: "point",
                             "data-site": site.id, "data-status": status.kind,
                             "aria-label": `${site.name || site.id}: ${status.label}` },
      svg("title", {}, `${site.name || site.id}: ${status.label}`),
      firing.has(site.id) ? svg("circle", { cx, cy, r: 22, class: "ring" }) : null,
      svg("circle", { cx, cy, r: 13, fill: statusColor(status) }),
      label((site.name || site.id).replace(/\s*\(.*\)$/, ""), cx, cy, height, placed));
    map.append(point);
  }
  return map;
}

/** A name beside its point, right or left where there is room, or none where it would
 *  cover another point or name (the list below names every site anyway). */
function label(text, cx, cy, height, placed) {
  const size = 17;
  const width = text.length * size * 0.56;
  for (const right of [true, false]) {
    const box = { x: right ? cx + 17 : cx - 17 - width, y: cy - size / 2 - 3, w: width, h: size + 6 };
    if (box.x < 0 || box.x + box.w > W || box.y < 0 || box.y + box.h > height) continue;
    if (placed.some((b) => b.x < box.x + box.w && box.x < b.x + b.w
      && b.y < box.y + box.h && box.y < b.y + b.h)) continue;
    placed.push(box);
    return svg("text", { x: right ? cx + 17 : cx - 17, y: cy + 6,
                         "text-anchor": right ? "start" : "end" }, text);
  }
  return null;
}

function legend(store) {
  const items = [];
  for (const pack of store.packs.values()) {
    const cls = pack.dashboard?.class;
    const labels = cls && store.classLabels(cls, pack.dashboard);
    if (!labels) continue;
    items.push(h("li", {}, h("strong", {}, `${pack.title}:`),
      labels.map((l, i) => h("span", { class: "key" },
        h("i", { style: { background: classColor(i, labels.length) } }), l))));
  }
  items.push(h("li", {}, h("strong", {}, "Other sites:"),
    Object.entries({ fresh: "has data", stale: "stale (over 2 h)", nodata: "no data" }).map(([k, l]) =>
      h("span", { class: "key" }, h("i", { style: { background: STATUS_COLORS[k] } }), l))));
  return h("ul", { class: "legend", "aria-label": "Legend" }, items);
}

function card(site, store, firing) {
  const status = store.status(site.id);
  const hints = store.hints(site.id);
  const latest = store.latest.get(site.id);
  const primary = hints.primary && latest?.get(hints.primary);
  const where = site.lat === null || site.lat === undefined ? "no coordinates"
    : `${num(site.lat, 2)}, ${num(site.lon, 2)}`;
  return h("a", { class: "card site-card", href: `#/site/${encodeURIComponent(site.id)}`,
                  "data-site": site.id, "data-status": status.kind },
    h("span", { class: "swatch", style: { background: statusColor(status) }, "aria-hidden": "true" }),
    h("span", { class: "card-body" },
      h("strong", { class: "name" }, site.name || site.id),
      h("span", { class: "muted small" }, `${site.pack} · ${where}`),
      h("span", { class: "state" },
        primary ? h("span", { class: "primary" },
          `${hints.primary} ${num(primary.value)} ${store.unit(hints.primary)}`) : null,
        h("span", { class: `label k-${status.kind}` }, status.label),
        status.time ? h("span", { class: "muted small" }, ago(status.time)) : null),
      firing.get(site.id) ? h("span", { class: "badge critical" },
        `${firing.get(site.id)} alert${firing.get(site.id) > 1 ? "s" : ""} firing`) : null));
}

export function mount(root, { store, stream }) {
  const firing = new Map();
  const summary = h("p", { class: "muted", id: "summary" });
  const mapBox = h("div", { class: "map-box" });
  const list = h("div", { class: "grid", id: "sites", "aria-label": "Sites" });
  root.append(h("h1", {}, "Overview"), summary, mapBox, h("h2", {}, "Sites"), list);
  let alive = true;

  // The list starts with what needs attention: firing alerts, then the worst classes.
  const severity = (id) => {
    const st = store.status(id);
    return st.kind === "class" ? st.index / Math.max(1, st.of - 1) : -1;
  };
  const worstFirst = (a, b) => (firing.get(b.id) || 0) - (firing.get(a.id) || 0)
    || severity(b.id) - severity(a.id) || (a.name || a.id).localeCompare(b.name || b.id);

  const render = () => {
    const sites = [...store.sites.values()];
    const placed = sites.filter((s) => s.lat !== null && s.lat !== undefined && s.lon !== null && s.lon !== undefined);
    const nFiring = [...firing.values()].reduce((a, b) => a + b, 0);
    summary.textContent = `${sites.length} site${sites.length === 1 ? "" : "s"}`
      + (placed.length < sites.length ? ` (${sites.length - placed.length} without coordinates)` : "")
      + ` · ${nFiring} alert${nFiring === 1 ? "" : "s"} firing`;
    mapBox.replaceChildren(...(placed.length ? [drawMap(placed, store, firing, land), legend(store)]
                                              : [legend(store)]));
    list.replaceChildren(...sites.sort(worstFirst).map((s) => card(s, store, firing)));
  };

  // Per-site redraws keep a busy stream cheap: only the site that changed is rebuilt.
  const update = (e) => {
    const site = store.sites.get(e.detail.site);
    if (!site || !e.detail.changed.length) return;
    const old = list.querySelector(`[data-site="${CSS.escape(site.id)}"]`);
    if (old) old.replaceWith(card(site, store, firing));
    const point = mapBox.querySelector(`a.point[data-site="${CSS.escape(site.id)}"]`);
    if (point) {
      const status = store.status(site.id);
      point.dataset.status = status.kind;
      point.setAttribute("aria-label", `${site.name || site.id}: ${status.label}`);
      point.querySelector("title").textContent = `${site.name || site.id}: ${status.label}`;
      point.querySelector("circle:not(.ring)").setAttribute("fill", statusColor(status));
    }
  };

  const loadLatest = async () => {
    const ids = [...store.sites.keys()].filter((id) => !store.loaded.has(id));
    // A few at a time: a hundred sites should not open a hundred requests at once.
    for (let i = 0; i < ids.length && alive; i += 6) {
      await Promise.all(ids.slice(i, i + 6).map((id) => store.loadLatest(id).catch(() => {})));
    }
    if (alive) render();
  };

  const loadAlerts = async () => {
    const answer = await api("/api/v1/alerts", { query: { state: "firing", limit: 1000 } });
    firing.clear();
    answer.alerts.forEach((a) => firing.set(a.site, (firing.get(a.site) || 0) + 1));
    if (alive) render();
  };

  const onSites = () => { render(); loadLatest(); };
  store.addEventListener("sites", onSites);
  store.addEventListener("readings", update);
  stream.subscribe(["alerts"]);
  const offAlerts = stream.on("alerts", () => loadAlerts().catch(() => {}));
  const onResync = (e) => { if (e.detail === "alerts") loadAlerts().catch(() => {}); };
  stream.addEventListener("resync", onResync);
  let land = null;
  landRings().then((rings) => { land = rings; if (alive) render(); }).catch(() => {});
  render();
  loadLatest();
  loadAlerts().catch(() => {});
  // Ages ("3 min ago") and staleness move with the clock, not only with events.
  const timer = setInterval(render, 30000);
  return () => {
    alive = false;
    clearInterval(timer);
    offAlerts();
    stream.removeEventListener("resync", onResync);
    store.removeEventListener("sites", onSites);
    store.removeEventListener("readings", update);
  };
}
