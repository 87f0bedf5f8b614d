// The REST client. One place adds the API key to every call, turns problem+json answers into
// errors that name the field, and tells the page whether the server can be reached at all.

const KEY = "riskcast.key";

/** Page-wide signals: "reachable" (detail: true/false) and "unauthorized" (a 401). */
export const signals = new EventTarget();

/** What the page knows about who it is: the key, and /auth/me's answer. */
export const session = { key: localStorage.getItem(KEY), me: null, auth: false };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.field = problem.field;
  }
}

export function setKey(key) {
  session.key = key || null;
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

// `make demo` prints `/?key=...`: keep the key, then drop it from the address bar (and from
// the browser history) so it is not shared by copying the URL or leaked in a Referer.
export function takeKeyFromUrl() {
  const url = new URL(location.href);
  const key = url.searchParams.get("key");
  if (key === null) return false;
  setKey(key);
  url.searchParams.delete("key");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  return true;
}

function headers(json) {
  const h = { accept: "application/json" };
  if (json) h["content-type"] = "application/json";
  if (session.key) h.authorization = `Bearer ${session.key}`;
  return h;
}

/** `api(path, {method, body, query})`: the decoded JSON answer, null when there is none. */
export async function api(path, { method = "GET", body, query } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null));
    if ([...q].length) url += `?${q}`;
  }
  let r;
  try {
    r = await fetch(url, { method, headers: headers(body !== undefined),
                           body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    signals.dispatchEvent(new CustomEvent("reachable", { detail: false }));
    throw new ApiError(0, { title: "the server cannot be reached" });
  }
  signals.dispatchEvent(new CustomEvent("reachable", { detail: true }));
  if (r.status === 401) signals.dispatchEvent(new CustomEvent("unauthorized"));
  if (!r.ok) {
    const problem = await r.json().catch(() => ({}));
    throw new ApiError(r.status, problem);
  }
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

/** Ask /auth/me who we are. A 404 means a server without authentication. */
export async function whoami() {
  try {
    const me = await api("/api/v1/auth/me");
    session.me = me;
    session.auth = Boolean(me.auth);
  } catch (err) {
    if (err.status !== 404) throw err;
    session.me = null;
    session.auth = false;
  }
  return session.me;
}

/** A short-lived token for the WebSocket (browsers cannot set its headers), as
 *  `{token, expiresIn}` (seconds); null without auth. The server closes a stream when its token
 *  expires, so the stream renews before that (stream.js). */
export async function streamToken() {
  if (!session.auth) return null;
  const answer = await api("/api/v1/auth/token", { method: "POST" });
  return { token: answer.token, expiresIn: answer.expires_in };
}

const RANKS = { viewer: 0, operator: 1, admin: 2 };

/** Whether this key's role reaches `role` (always, on a server without authentication). The
 *  server decides; this only spares people buttons that would answer 403. */
export function can(role) {
  if (!session.auth) return true;
  return (RANKS[session.me?.role] ?? -1) >= RANKS[role];
}

/** Why a button is disabled, for its title. */
export function needs(role) {
  return can(role) ? undefined : `needs the ${role} role; this key is ${session.me?.role}`;
}

/** Who did it, for acknowledgements, silences and deploys. */
export function actor() {
  return session.me?.name || "dashboard";
}

/** Every page of a cursor-paged list, up to `max` items. */
export async function all(path, field, query = {}, max = 10000) {
  const out = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, cursor } });
    out.push(...page[field]);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}
