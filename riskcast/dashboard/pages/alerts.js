// Alerts: open and past alerts with the operator's actions (acknowledge, silence, say whether
// the alert was right), and the silences in force. The `alerts` channel carries every
// transition, so the list is re-read when one arrives rather than patched by hand.

import { actor, api, can, needs } from "../api.js";
import { Actions } from "../actions.js";
import { choice, h, num, when } from "../format.js";

const FILTERS = [["open", "Open (pending, firing, acknowledged)"], ["firing", "Firing"],
                 ["acknowledged", "Acknowledged"], ["pending", "Pending"],
                 ["resolved", "Resolved"], ["all", "All"]];
const DURATIONS = [["1h", "1 hour"], ["4h", "4 hours"], ["1d", "1 day"], ["7d", "7 days"]];
const VERDICTS = [["true_positive", "Right"], ["false_positive", "False alarm"], ["unsure", "Unsure"]];

function debounce(fn, ms) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

export function mount(root, { stream }) {
  let filter = sessionStorage.getItem("riskcast.alerts") || "open";
  let alive = true;
  const list = h("div", { id: "alerts", class: "alerts", "aria-live": "polite" });
  const silences = h("div", { id: "silences" });
  root.append(h("h1", {}, "Alerts"),
    h("div", { class: "controls" }, choice("Show", "alert-filter", FILTERS, filter, (v) => {
      filter = v; sessionStorage.setItem("riskcast.alerts", v); load();
    })),
    list, h("h2", {}, "Silences"), silences);

  const actions = new Actions(() => load());
  // Acknowledging, feedback and silences need an operator key.
  const op = { disabled: !can("operator"), title: needs("operator") };

  // Open silence forms and what was typed in them, by alert: the list is rebuilt whenever
  // the `alerts` channel speaks, and a form must not close (or forget) under the hand.
  const drafts = new Map();

  function silenceForm(alert) {
    const id = `silence-${alert.id}`;
    const draft = drafts.get(alert.id) || { duration: "1h", comment: "", open: false };
    const comment = h("input", { id: `${id}-comment`, type: "text", placeholder: "why (optional)",
                                 value: draft.comment,
                                 oninput: () => { draft.comment = comment.value; } });
    const form = h("form", { class: "inline-form", hidden: !draft.open, "aria-label": `Silence ${alert.id}` },
      choice("For", `${id}-duration`, DURATIONS, draft.duration, (v) => { draft.duration = v; }),
      h("label", { for: `${id}-comment` }, "Comment", comment),
      h("button", { type: "submit" }, "Silence"));
    form.toggle = () => {
      draft.open = !draft.open;
      form.hidden = !draft.open;
      if (draft.open) drafts.set(alert.id, draft);
      return draft.open;
    };
    form.onsubmit = (e) => {
      e.preventDefault();
      actions.run(alert.id, "Silence", async () => {
        await api("/api/v1/silences", { method: "POST", body: {
          matchers: [{ label: "rule", value: alert.rule }], sites: [alert.site],
          duration: draft.duration, comment: draft.comment, created_by: actor() } });
        drafts.delete(alert.id);
      });
    };
    return form;
  }

  function item(alert) {
    const status = actions.status(alert.id);
    const form = silenceForm(alert);
    const buttons = h("div", { class: "actions" });
    if (alert.state === "firing") {
      buttons.append(h("button", { type: "button", class: "primary", ...op,
        onclick: () => actions.run(alert.id, "Acknowledge", () => api(
          `/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`,
          { method: "POST", body: { by: actor(), comment: "from the dashboard" } })) },
      "Acknowledge"));
    }
    if (alert.state !== "resolved") {
      buttons.append(h("button", { type: "button", "aria-expanded": String(!form.hidden), ...op,
        onclick: (e) => { e.target.setAttribute("aria-expanded", String(form.toggle())); } },
      "Silence…"));
    }
    const feedback = h("span", { class: "feedback", role: "group", "aria-label": "Was this alert right?" },
      h("span", { class: "muted small" }, "Was it right?"),
      VERDICTS.map(([verdict, text]) => h("button", { type: "button", "data-verdict": verdict, ...op,
        onclick: () => actions.run(alert.id, "Feedback", () => api(
          `/api/v1/alerts/${encodeURIComponent(alert.id)}/feedback`,
          { method: "POST", body: { verdict, by: actor() } })) }, text)));
    buttons.append(feedback);
    const summary = alert.annotations?.summary || `${alert.rule} on ${alert.site}`;
    return h("article", { class: `alert-item sev-${alert.severity}`, "data-alert": alert.id,
                          "data-state": alert.state },
      h("header", {},
        h("span", { class: `badge ${alert.severity}` }, alert.severity),
        h("span", { class: `state state-${alert.state}` }, alert.state),
        alert.silenced ? h("span", { class: "badge" }, "silenced") : null,
        h("strong", {}, summary)),
      h("p", { class: "muted small" },
        "rule ", h("code", {}, alert.rule), " · site ",
        h("a", { href: `#/site/${encodeURIComponent(alert.site)}` }, alert.site),
        alert.variable ? ` · ${alert.variable} = ${num(alert.value)}` : "",
        ` · since ${when(alert.started_at)}`,
        alert.acknowledged_by ? ` · acknowledged by ${alert.acknowledged_by}` : "",
        alert.episodes > 1 ? ` · ${alert.episodes} episodes` : ""),
      buttons, form, status);
  }

  async function loadAlerts() {
    const query = { limit: 1000 };
    if (!["open", "all"].includes(filter)) query.state = filter;
    const answer = await api("/api/v1/alerts", { query });
    let alerts = answer.alerts;
    if (filter === "open") alerts = alerts.filter((a) => a.state !== "resolved");
    const order = { firing: 0, pending: 1, acknowledged: 2, resolved: 3 };
    const rank = { critical: 0, warning: 1, info: 2 };
    alerts.sort((a, b) => order[a.state] - order[b.state] || rank[a.severity] - rank[b.severity]
      || String(b.updated_at).localeCompare(String(a.updated_at)));
    if (!alive) return;
    list.replaceChildren(...(alerts.length ? alerts.map(item)
      : [h("p", { class: "muted" }, "No alerts here.")]));
  }

  async function loadSilences() {
    const answer = await api("/api/v1/silences");
    const current = answer.silences.filter((s) => s.status !== "expired");
    if (!alive) return;
    silences.replaceChildren(...(current.length ? current.map((s) => {
      const status = actions.status(s.id);
      const what = [...s.matchers.map((m) => `${m.label}${m.op || "="}${m.value}`),
                    ...(s.sites.length ? [`sites: ${s.sites.join(", ")}`] : [])].join(" · ");
      return h("article", { class: "silence", "data-silence": s.id },
        h("span", {}, h("span", { class: "badge" }, s.status), " ", what || "everything",
          h("span", { class: "muted small" }, ` until ${when(s.ends_at)}${s.comment ? ` · ${s.comment}` : ""}`)),
        h("button", { type: "button", ...op, onclick: () => actions.run(s.id, "Expire",
          () => api(`/api/v1/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" })) }, "Expire now"),
        status);
    }) : [h("p", { class: "muted" }, "No silences in force.")]));
  }

  function load() {
    loadAlerts().catch((err) => list.replaceChildren(h("p", { class: "error" }, err.message)));
    loadSilences().catch(() => {});
  }

  stream.subscribe(["alerts"]);
  const reload = debounce(() => { if (alive) load(); }, 150);
  const off = stream.on("alerts", reload);
  // Subscribed only now: what changed before the subscription is read again.
  const onResync = (e) => { if (e.detail === "alerts") reload(); };
  stream.addEventListener("resync", onResync);
  load();
  return () => { alive = false; off(); stream.removeEventListener("resync", onResync); };
}
