// Models: each registered model with its versions, cross-validated metrics beside the
// baseline's, where `production` and `staging` point, and the buttons to train, deploy and
// roll back. Training progress and alias moves arrive on the `models` channel.

import { actor, api, can, needs } from "../api.js";
import { Actions } from "../actions.js";
import { h, num, when } from "../format.js";

function metricsTable(metrics) {
  const model = metrics?.model || {};
  const baseline = metrics?.baseline || {};
  const names = Object.keys(model);
  if (!names.length) return h("span", { class: "muted" }, "no metrics");
  const cell = (m) => (m && m.mean !== null && m.mean !== undefined
    ? `${num(m.mean, 3)}${m.std ? ` ± ${num(m.std, 3)}` : ""}` : "–");
  return h("table", { class: "metrics" },
    h("caption", { class: "muted small" }, metrics.protocol || ""),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "metric"), h("th", { scope: "col" }, "model"),
      h("th", { scope: "col" }, metrics.baseline_name || "baseline"))),
    h("tbody", {}, names.map((n) => h("tr", {}, h("th", { scope: "row" }, n),
      h("td", {}, cell(model[n])), h("td", {}, cell(baseline[n]))))));
}

export function mount(root, { stream }) {
  let alive = true;
  const box = h("div", { id: "models" });
  const jobs = new Map(); // model name -> latest job
  root.append(h("h1", {}, "Models"), box);

  const actions = new Actions(() => load());
  // Training, deploying and rolling back need an admin key.
  const admin = !can("admin");
  const why = needs("admin");

  function modelSection(model) {
    const status = actions.status(model.name);
    const base = `/api/v1/models/${encodeURIComponent(model.name)}`;
    const aliases = model.aliases || {};
    const job = jobs.get(model.name);
    const buttons = h("div", { class: "actions" });
    if (model.trainable) {
      buttons.append(h("button", { type: "button", title: why,
        disabled: admin || ["queued", "running"].includes(job?.state),
        onclick: () => actions.run(model.name, "Train", async () => {
          const j = await api(`${base}/train`, { method: "POST", body: { by: actor() } });
          jobs.set(model.name, j);
        }) }, "Train a new version"));
    }
    for (const alias of ["production", "staging"]) {
      if (aliases[alias] !== undefined) {
        buttons.append(h("button", { type: "button", "data-rollback": alias, disabled: admin, title: why,
          onclick: () => actions.run(model.name, `Roll back ${alias}`, () => api(`${base}/rollback`,
            { method: "POST", body: { alias, by: actor() } })) }, `Roll back ${alias}`));
      }
    }
    const versions = [...(model.versions || [])].sort((a, b) => b.version - a.version);
    // One block per version rather than a wide table: it reads the same on a phone.
    const blocks = versions.map((v) => {
      const here = Object.entries(aliases).filter(([, n]) => n === v.version).map(([a]) => a);
      return h("article", { class: "version", "data-version": v.version },
        h("header", {}, h("strong", {}, `v${v.version}`),
          here.map((a) => h("span", { class: `badge alias-${a}` }, a)),
          h("span", {}, v.algorithm),
          h("span", { class: "muted small" },
            `${v.data?.rows ?? "?"} rows · ${when(v.created_at)}${v.created_by ? ` by ${v.created_by}` : ""}`)),
        v.description ? h("details", {}, h("summary", {}, "About this version"),
          h("p", { class: "small" }, v.description),
          h("p", { class: "muted small" }, v.data?.description || "")) : null,
        metricsTable(v.metrics),
        h("div", { class: "actions" }, ["production", "staging"].map((alias) => h("button", {
          type: "button", "data-deploy": alias, disabled: admin || aliases[alias] === v.version, title: why,
          onclick: () => actions.run(model.name, `Deploy v${v.version} to ${alias}`, () => api(`${base}/deploy`,
            { method: "POST", body: { version: v.version, alias, by: actor() } })) },
        `Deploy to ${alias}`))));
    });
    const moves = (model.moves || []).slice(-5).reverse();
    return h("section", { class: "card model", "data-model": model.name },
      h("h2", {}, model.name),
      h("p", { class: "muted" }, `${versions.length} version${versions.length === 1 ? "" : "s"}`,
        Object.entries(aliases).map(([a, n]) => ` · ${a} → v${n}`).join("")),
      job ? h("p", { class: "job", "data-job-state": job.state },
        `Training job ${job.id}: ${job.state}`, job.total ? ` (${job.done}/${job.total})` : "",
        job.version ? ` → v${job.version}` : "", job.error ? ` · ${job.error}` : "") : null,
      buttons, status,
      versions.length ? h("div", { class: "versions" }, blocks)
        : h("p", { class: "muted" }, "No versions yet."),
      moves.length ? h("details", {}, h("summary", {}, "Alias moves"),
        h("ul", {}, moves.map((m) => h("li", {},
          `${when(m.at)}: ${m.kind} ${m.alias} v${m.from_version ?? "–"} → v${m.to_version} by ${m.by}`))))
        : null);
  }

  async function load() {
    try {
      const list = await api("/api/v1/models");
      const shown = await Promise.all(list.models.map(async (m) => (m.versions
        ? { ...m, ...(await api(`/api/v1/models/${encodeURIComponent(m.name)}`)) } : m)));
      if (!alive) return;
      box.replaceChildren(...(shown.length ? shown.map(modelSection)
        : [h("p", { class: "muted" }, "No models.")]));
    } catch (err) {
      if (alive) box.replaceChildren(h("p", { class: "error" },
        err.status === 404 ? "The model registry is off on this server (pip install 'riskcast[ml]')."
          : err.message));
    }
  }

  stream.subscribe(["models"]);
  const off = stream.on("models", (data) => {
    if (data.type === "job") jobs.set(data.job.name, data.job);
    load();
  });
  // Subscribed only now: what changed before the subscription is read again.
  const onResync = (e) => { if (e.detail === "models") load(); };
  stream.addEventListener("resync", onResync);
  load();
  return () => { alive = false; off(); stream.removeEventListener("resync", onResync); };
}
