// One WebSocket for the whole page (docs/streams.md). Pages say which channels they need; the
// stream keeps, per channel, the seq of the last event seen, so after a reconnect it subscribes
// with `since` and gets exactly what it missed. While the server is away it retries with
// exponential backoff and jitter, so a restart is not met by every open page at once.

const MIN_DELAY = 500;
const MAX_DELAY = 8000;

export class Stream extends EventTarget {
  /** `token()` gives a fresh stream token (or null without auth) before every connect. */
  constructor(token) {
    super();
    this.token = token;
    this.wanted = new Set();
    this.seq = {};          // channel -> last seq seen (absent: take the server's at subscribe)
    this.handlers = new Map();
    this.ws = null;
    this.attempt = 0;
    this.status = "connecting";
    this.retryAt = null;
    this.timer = null;
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
    if (fresh.length && this.status === "live") this.sendSubscribe(fresh);
  }

  start() {
    this.stopped = false;
    if (!this.ws && !this.timer) this.connect();
  }

  /** Close the socket and stay closed until `start()`; positions are kept for the resume. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.setStatus("stopped");
  }

  setStatus(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }

  sendSubscribe(channels) {
    // `since` only for channels we have a position in; the others start live.
    const since = {};
    channels.forEach((c) => { if (this.seq[c] !== undefined) since[c] = this.seq[c]; });
    this.ws.send(JSON.stringify({ op: "subscribe", channels, since }));
  }

  async connect() {
    this.timer = null;
    if (this.stopped) return;
    this.setStatus(this.attempt ? "reconnecting" : "connecting");
    let token = null;
    try {
      token = await this.token();
    } catch (err) {
      this.retry();
      return;
    }
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    if (this.stopped) return;
    const ws = new WebSocket(`${proto}://${location.host}/ws${query}`);
    this.ws = ws;
    ws.onopen = () => {
      if (this.wanted.size) this.sendSubscribe([...this.wanted]);
      else this.live();
    };
    ws.onmessage = (msg) => this.receive(JSON.parse(msg.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry();
    };
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

  receive(frame) {
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
    this.handlers.get(frame.channel)?.forEach((fn) => fn(frame.data, frame));
    const prefix = frame.channel.split(".")[0] + ".*";
    this.handlers.get(prefix)?.forEach((fn) => fn(frame.data, frame));
  }
}
