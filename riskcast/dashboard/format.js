// Small helpers for building DOM and printing numbers and times, shared by the pages.

const SVG_NS = "http://www.w3.org/2000/svg";

/** `h("button", {class: "x", onclick: f}, "text", child)`: an element. Functions become
 *  properties (event handlers); `true` is an empty attribute; null, undefined, false are left
 *  out. `style` takes an object set through CSSOM: the server's Content-Security-Policy
 *  (style-src 'self') refuses style attributes. */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === "function") node[k] = v;
    else if (k === "style") Object.assign(node.style, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** A <select> with a label; `options` are [value, text] pairs; `onchange(value)`. */
export function choice(label, id, options, value, onchange) {
  const select = h("select", { id, onchange: () => onchange(select.value) },
    options.map(([v, t]) => h("option", { value: v }, t)));
  select.value = value;
  return h("label", { class: "choice", for: id }, label, select);
}

/** A number with at most `digits` decimals, no trailing zeros. */
export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toFixed(digits).replace(/\.?0+$/, "");
}

/** "12 s ago", "3 min ago", "5 h ago", "2 d ago". */
export function ago(time) {
  const s = Math.round((Date.now() - Date.parse(time)) / 1000);
  if (s < 0) return "in the future";
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** A short local date and time. */
export function when(time) {
  return time ? new Date(time).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "–";
}

/** Colour of class `index` of `of` classes: green (best) through orange to dark red (worst). */
export function classColor(index, of) {
  const ramp = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7f0000"];
  if (of <= 1) return ramp[0];
  const pos = Math.min(Math.max(index, 0), of - 1) / (of - 1);
  return ramp[Math.round(pos * (ramp.length - 1))];
}

export const STATUS_COLORS = { fresh: "#2b6cb0", stale: "#a0aec0", nodata: "#ffffff" };

/** Colour of a site status from `Store.status`. */
export function statusColor(status) {
  return status.kind === "class" ? classColor(status.index, status.of) : STATUS_COLORS[status.kind];
}
