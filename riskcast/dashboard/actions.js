// Buttons that change something on the server (acknowledge, deploy, ...) say how it went next
// to themselves. Pages re-render whenever their channel speaks, so the outcome is kept here,
// by key, and shown again in the re-rendered status element.

import { h } from "./format.js";

export class Actions {
  /** `reload()` re-reads the page after a successful action. */
  constructor(reload) {
    this.reload = reload;
    this.notes = new Map();    // key -> {text, error}
    this.elements = new Map(); // key -> the status element rendered last
  }

  /** A `role=status` element for `key`, holding the outcome of its last action. */
  status(key) {
    const n = this.notes.get(key);
    const el = h("span", { class: n?.error ? "status error" : "status", role: "status" }, n?.text || "");
    this.elements.set(key, el);
    return el;
  }

  note(key, text, error = false) {
    this.notes.set(key, { text, error });
    const el = this.elements.get(key);
    if (el) {
      el.textContent = text;
      el.className = error ? "status error" : "status";
    }
  }

  /** Run `fn`, say "what…", then "what: done" (and reload) or "what failed: why". */
  async run(key, what, fn) {
    this.note(key, `${what}…`);
    try {
      await fn();
      this.note(key, `${what}: done`);
      this.reload();
    } catch (err) {
      this.note(key, `${what} failed: ${err.message}`, true);
    }
  }
}
