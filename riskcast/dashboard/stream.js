// One WebSocket for the whole page (docs/streams.md). Pages say which channels they need; the
// stream keeps, per channel, the seq of the last event seen, so after a reconnect it subscribes
// with `since` and gets exactly what it missed. While the server is away it retries with
// exponential backoff and jitter, so a restart is not met by every open page at once.
//
// The server closes a stream when its token expires (4401 "token expired"). Before that, at
// RENEW_AT of the token's life, the stream renews: it fetches a new token, opens a second
// socket, subscribes it with `since` at the positions seen so far, and only once that socket
// is subscribed closes the old one. Events both sockets carry are taken once (by seq), so
// nothing is missed and the page stays "live" throughout. A close for an expired token that
// comes first anyway (a throttled background tab) reconnects at once, without backoff.

const MIN_DELAY = 500;
const MAX_DELAY = 8000;
const RENEW_AT = 0.75;
const EXPIRED = "token expired";

export class Stream extends EventTarget {
  /** `token()` gives `{token, expiresIn}` (or null without auth) before every connect. */
  constructor(token) {
    super();
    this.token = token;
    this.wanted = new Set();
    this.seq = {};          // channel -> last seq seen (absent: take the server's at subscribe)
    this.handlers = new Map();
    this.ws = null;
    this.next = null;       // the socket replacing `ws` while a renewal is under way
    this.attempt = 0;
    this.status = "connecting";
    this.retryAt = null;
    this.timer = null;
    this.renewTimer = null;
    this.renewals = 0;      // sockets replaced before their token expired (for the tests)
  }

  /** Call `fn(data, event)` for each event of `channel`; returns a function that stops it. */
  on(channel, fn) {
    if (!this.handlers.has(channel)) this.handlers.set(channel, new Set());
    this.handlers.get(channel).add(fn);
    return () => this.handlers.get(channel)?.delete(fn);
  }

  /** Add channels to the subscription (kept across reconnects). */
  subscribe(channels) {
    const fresh = channels.filter((c) => !this.wanted.has(c));
    fresh.forEach((c) => this.wanted.add(c));
    if (!fresh.length) return;
    // A socket still opening subscribes to every wanted channel once it is open.
    if (this.status === "live" && this.ws?.readyState === WebSocket.OPEN) this.sendSubscribe(fresh);
    if (this.next?.readyState === WebSocket.OPEN) this.sendSubscribe(fresh, this.next);
  }

  start() {
    this.stopped = false;
    if (!this.ws && !this.timer) this.connect();
  }

  /** Close the socket and stay closed until `start()`; positions are kept for the resume. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    this.timer = null;
    const ws = this.ws;
    const next = this.next;
    this.ws = null;
    this.next = null;
    ws?.close(1000);
    next?.close(1000);
    this.setStatus("stopped");
  }

  setStatus(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }

  sendSubscribe(channels, ws = this.ws) {
    // `since` only for channels we have a position in; the others start live.
    const since = {};
    channels.forEach((c) => { if (this.seq[c] !== undefined) since[c] = this.seq[c]; });
    ws.send(JSON.stringify({ op: "subscribe", channels, since }));
  }

  /** A new socket with a fresh token; `null` (after scheduling a retry) when none came. */
  async open() {
    let grant = null;
    try {
      grant = await this.token();
    } catch (err) {
      return null;
    }
    if (this.stopped) return null;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const query = grant?.token ? `?token=${encodeURIComponent(grant.token)}` : "";
    const ws = new WebSocket(`${proto}://${location.host}/ws${query}`);
    ws.onmessage = (msg) => this.receive(JSON.parse(msg.data), ws);
    ws.onclose = (e) => this.closed(ws, e);
    if (grant?.expiresIn) {
      clearTimeout(this.renewTimer);
      this.renewTimer = setTimeout(() => this.renew(), grant.expiresIn * 1000 * RENEW_AT);
    }
    return ws;
  }

  async connect() {
    this.timer = null;
    if (this.stopped) return;
    if (this.status !== "live") this.setStatus(this.attempt ? "reconnecting" : "connecting");
    const ws = await this.open();
    if (!ws) {
      if (!this.stopped) this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.wanted.size) this.sendSubscribe([...this.wanted]);
      else this.live();
    };
  }

  /** Replace the socket before its token expires; the old one serves until the new is ready. */
  async renew() {
    if (this.stopped || !this.ws || this.next || this.status !== "live") return;
    const ws = await this.open();
    if (!ws) return; // no token now: the old socket is closed at expiry and reconnects then
    if (this.stopped || !this.ws) {
      ws.close(1000);
      return;
    }
    this.next = ws;
    ws.onopen = () => {
      if (this.wanted.size) this.sendSubscribe([...this.wanted], ws);
      else this.switchTo(ws);
    };
  }

  switchTo(ws) {
    if (this.next !== ws) return;
    const old = this.ws;
    this.ws = ws;
    this.next = null;
    this.renewals += 1;
    old?.close(1000);
  }

  closed(ws, event) {
    if (ws === this.next) { // the replacement failed: keep the old socket
      this.next = null;
      return;
    }
    if (this.ws !== ws) return;
    this.ws = null;
    if (this.next) { // closed while its replacement is subscribing: take that one now
      this.switchTo(this.next);
      return;
    }
    if (event.code === 4401 && event.reason === EXPIRED && !this.stopped) {
      this.connect(); // only the token is stale: straight back, resuming with `since`
      return;
    }
    this.retry();
  }

  live() {
    this.attempt = 0;
    this.retryAt = null;
    this.setStatus("live");
  }

  retry() {
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * base / 2;   // "equal jitter"
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setStatus("offline");
    this.timer = setTimeout(() => this.connect(), delay);
  }

  receive(frame, ws = this.ws) {
    if (frame.op === "subscribed" && ws === this.next) this.switchTo(ws);
    if (frame.op === "subscribed") {
      const fresh = frame.channels.filter((c) => this.seq[c] === undefined);
      fresh.forEach((c) => { this.seq[c] = frame.seq[c]; });
      if (this.status !== "live") this.live();
      // Events before a fresh subscription were never sent to us: whatever a page read over
      // REST before this point may be older than the stream; "resync" asks it to read again.
      fresh.forEach((c) => this.dispatchEvent(new CustomEvent("resync", { detail: c })));
      return;
    }
    if (frame.op === "error") {
      if (frame.code === "history_gap") {
        // Events were lost to the stream (or the server restarted with a fresh numbering):
        // accept the replay that follows whatever its numbers, and let pages read REST again.
        delete this.seq[frame.channel];
        this.dispatchEvent(new CustomEvent("resync", { detail: frame.channel }));
      } else if (frame.code === "forbidden") {
        frame.channels.forEach((c) => this.wanted.delete(c));
      } else {
        console.warn("stream:", frame.code, frame.message);
      }
      return;
    }
    if (frame.op) return; // pong, unsubscribed
    const last = this.seq[frame.channel];
    if (last !== undefined && frame.seq <= last) return; // already seen before a reconnect
    this.seq[frame.channel] = frame.seq;
    if (frame.data?.type === "history_gap") {
      // The server folded events it could not publish (the bus was away too long) into this
      // marker; the readings are in storage, so pages read REST again.
      this.dispatchEvent(new CustomEvent("resync", { detail: frame.channel }));
      return;
    }
    this.handlers.get(frame.channel)?.forEach((fn) => fn(frame.data, frame));
    const prefix = frame.channel.split(".")[0] + ".*";
    this.handlers.get(prefix)?.forEach((fn) => fn(frame.data, frame));
  }
}
