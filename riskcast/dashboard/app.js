// The dashboard's entry point: sign in (a key from `?key=`, localStorage or the login form),
// open the one live stream, load the catalog, then route `#/...` to a page module. A page is
// `mount(root, ctx, params)` returning its clean-up, so leaving a page stops its timers and
// stream handlers.

import { api, ApiError, session, setKey, signals, streamToken, takeKeyFromUrl, whoami } from "./api.js";
import { Store } from "./store.js";
import { Stream } from "./stream.js";
import * as overview from "./pages/overview.js";
import * as site from "./pages/site.js";
import * as alerts from "./pages/alerts.js";
import * as models from "./pages/models.js";
import * as system from "./pages/system.js";

const ROUTES = [
  [/^#?\/?$/, overview, "overview"],
  [/^#\/site\/(.+)$/, site, "overview"],
  [/^#\/alerts$/, alerts, "alerts"],
  [/^#\/models$/, models, "models"],
  [/^#\/system$/, system, "system"],
];

const $ = (id) => document.getElementById(id);
const stream = new Stream(streamToken);
const store = new Store(stream);
// For the browser console (and the tests): the page's one stream and its shared state.
window.riskcast = { stream, store };
let unmount = null;
let started = false;

function route(event) {
  if (!started) return;
  unmount?.();
  unmount = null;
  const hash = location.hash || "#/";
  let match = null;
  const [, page, nav] = ROUTES.find(([re]) => (match = hash.match(re))) || [];
  const root = $("page");
  root.replaceChildren();
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.page === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (!page) {
    root.append(Object.assign(document.createElement("p"), { textContent: "No such page." }));
    return;
  }
  unmount = page.mount(root, { store, stream, api }, match.slice(1).map(decodeURIComponent));
  document.title = `riskcast · ${nav}`;
  // After a navigation, a screen reader starts reading at the new page, not the header.
  if (event) root.focus({ preventScroll: true });
}

// The indicator says what the stream is doing; the banner says the server is away, whether
// the stream or a REST call found out first.
let reachable = true;
let refused = false; // the key was refused: the sign-in form is up, the server is not away
function showConnection() {
  const s = stream.status;
  const conn = $("conn");
  conn.className = `conn ${s}`;
  conn.dataset.status = s;
  conn.textContent = s === "live" ? "● live" : refused ? "signed out" : s === "offline"
    ? `offline · retrying in ${Math.max(1, Math.round((stream.retryAt - Date.now()) / 1000))} s`
    : s === "stopped" ? "paused" : `${s}…`;
  $("offline").hidden = refused || (s !== "offline" && reachable);
}
stream.addEventListener("status", (e) => {
  if (e.detail === "live") reachable = true;
  showConnection();
});
signals.addEventListener("reachable", (e) => { reachable = e.detail; showConnection(); });
setInterval(() => { if (stream.status === "offline") showConnection(); }, 1000);

function showLogin(message) {
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-key").focus();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  setKey($("login-key").value.trim());
  $("login-key").value = "";
  await start();
});

$("signout").addEventListener("click", () => {
  stream.stop();
  setKey(null);
  location.reload();
});

// A 401 after signing in: the key was revoked (its stream is closed too, and the reconnect's
// token request is what usually finds out first).
signals.addEventListener("unauthorized", () => {
  if (!started || !session.auth) return;
  refused = true;
  showConnection();
  showLogin("Your key was refused; sign in again.");
});

async function start() {
  try {
    await whoami();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin(session.key ? "That key was refused." : "");
      return;
    }
    $("page").replaceChildren(Object.assign(document.createElement("p"),
      { className: "error", textContent: `Cannot reach the server: ${err.message}` }));
    // Not reachable yet: try again in a while (the banner says so).
    setTimeout(start, 2000);
    return;
  }
  $("login").hidden = true;
  refused = false;
  if (session.auth && session.me) {
    $("who").hidden = false;
    $("who").textContent = `${session.me.name} (${session.me.role})`;
    $("signout").hidden = false;
  }
  if (started) {
    // Signed in again (a refused key, then a good one): reconnect the stream with the new
    // key, resuming where it was, and read the current page again.
    stream.stop();
    stream.start();
    route();
    return;
  }
  try {
    await store.loadCatalog();
  } catch (err) {
    setTimeout(start, 2000); // the banner says the server is away; try again
    return;
  }
  started = true;
  stream.start();
  // Pages read REST once the stream is subscribed, so nothing falls between the two; a
  // stream that cannot connect (a proxy without WebSockets) holds the first page up 3 s.
  await new Promise((resolve) => {
    const done = () => { stream.removeEventListener("status", onStatus); clearTimeout(timer); resolve(); };
    const onStatus = (e) => { if (e.detail === "live") done(); };
    const timer = setTimeout(done, 3000);
    stream.addEventListener("status", onStatus);
  });
  route();
}

window.addEventListener("hashchange", route);
takeKeyFromUrl();
showConnection();
start();
