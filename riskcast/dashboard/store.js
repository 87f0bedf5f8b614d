// What every page shares: the sites, the packs' dashboard hints, the variables' units, and the
// latest value of each site's series, kept current from the `site.<id>` channels. Pages read
// it and listen for "sites" and "readings" events instead of each asking the server again.

import { all, api } from "./api.js";

// One connection may hold 256 channels (docs/streams.md); keep room for the page's own.
export const MAX_SITE_CHANNELS = 240;

// Class labels the packs do not ship as hints yet (wildfire's EFFIS danger class).
const DEFAULT_CLASSES = {
  danger_class: ["very low", "low", "moderate", "high", "very high", "extreme"],
};
// A site without a class series is "stale" when its newest reading is older than this.
export const STALE_MS = 2 * 3600 * 1000;

export class Store extends EventTarget {
  constructor(stream) {
    super();
    this.stream = stream;
    this.sites = new Map();
    this.packs = new Map();
    this.variables = new Map();
    this.latest = new Map();   // site -> Map(variable -> {value, time, quality})
    this.loaded = new Set();   // sites whose /latest was read
    stream.on("site.*", (data) => {
      if (data.type === "readings") this.apply(data.site, data.readings);
    });
    stream.on("system", (data) => {
      if (String(data.type).startsWith("site.")) this.loadSites().catch(() => {});
    });
    // After a gap, or a fresh subscription, the latest values are read again.
    stream.addEventListener("resync", (e) => {
      const site = e.detail.startsWith("site.") ? e.detail.slice(5) : null;
      if (site && this.loaded.has(site)) this.loadLatest(site).catch(() => {});
    });
  }

  async loadCatalog() {
    const [packs, variables] = await Promise.all([api("/api/v1/packs"), api("/api/v1/variables")]);
    packs.packs.forEach((p) => this.packs.set(p.name, p));
    variables.variables.forEach((v) => this.variables.set(v.name, v));
    await this.loadSites();
  }

  async loadSites() {
    const sites = await all("/api/v1/sites", "sites");
    this.sites = new Map(sites.map((s) => [s.id, s]));
    this.stream.subscribe(["system", ...sites.slice(0, MAX_SITE_CHANNELS).map((s) => `site.${s.id}`)]);
    this.dispatchEvent(new CustomEvent("sites"));
  }

  async loadLatest(siteId) {
    const answer = await api(`/api/v1/sites/${encodeURIComponent(siteId)}/latest`);
    this.loaded.add(siteId);
    this.apply(siteId, Object.entries(answer.latest).map(([variable, r]) => ({ variable, ...r })));
  }

  /** Merge readings (from REST or the stream); an older reading never replaces a newer one. */
  apply(siteId, readings) {
    if (!this.latest.has(siteId)) this.latest.set(siteId, new Map());
    const map = this.latest.get(siteId);
    const changed = [];
    for (const r of readings) {
      const old = map.get(r.variable);
      if (old && Date.parse(old.time) > Date.parse(r.time)) continue;
      map.set(r.variable, { value: r.value, time: r.time, quality: r.quality });
      changed.push(r);
    }
    this.dispatchEvent(new CustomEvent("readings", { detail: { site: siteId, readings, changed } }));
  }

  unit(variable) {
    const u = this.variables.get(variable)?.unit;
    return u && u !== "1" ? u : "";
  }

  hints(siteId) {
    return this.packs.get(this.sites.get(siteId)?.pack)?.dashboard || {};
  }

  classLabels(variable, hints) {
    return hints.classes?.[variable] || DEFAULT_CLASSES[variable] || null;
  }

  /**
   * How to colour a site: its class (index, of how many, label) when its pack names a class
   * series that has a value; else "fresh", "stale" or "nodata".
   */
  status(siteId) {
    const hints = this.hints(siteId);
    const latest = this.latest.get(siteId);
    const cls = hints.class && latest?.get(hints.class);
    if (cls && cls.quality !== "bad") {
      const labels = this.classLabels(hints.class, hints) || [];
      const index = Math.round(cls.value);
      return { kind: "class", index, of: Math.max(labels.length, index + 1),
               label: labels[index] ?? `class ${index}`, time: cls.time };
    }
    if (!latest || latest.size === 0) return { kind: "nodata", label: "no data" };
    const newest = Math.max(...[...latest.values()].map((r) => Date.parse(r.time)));
    return Date.now() - newest > STALE_MS
      ? { kind: "stale", label: "stale", time: new Date(newest).toISOString() }
      : { kind: "fresh", label: "has data", time: new Date(newest).toISOString() };
  }
}
