// The conversation socket: sends completed items to the server and keeps
// every unacknowledged message in an outbox in localStorage, so neither a
// dropped socket nor a page reload loses a turn. Resends until acknowledged;
// the server saves each item once, so resending is always safe.

const PREFIX = "parlance.outbox.";

export class Outbox {
  constructor(sessionId, socketPath, storage = window.localStorage) {
    this.key = PREFIX + sessionId;
    this.storage = storage;
    const stored = readJSON(storage, this.key);
    this.socketPath = socketPath || (stored && stored.socketPath) || "";
    this.entries = new Map(stored && Array.isArray(stored.entries) ? stored.entries : []);
  }

  put(key, message) {
    this.entries.set(key, message);
    this.persist();
  }

  remove(key) {
    if (this.entries.delete(key)) this.persist();
  }

  get size() {
    return this.entries.size;
  }

  persist() {
    try {
      if (this.entries.size === 0) this.storage.removeItem(this.key);
      else this.storage.setItem(this.key, JSON.stringify({ socketPath: this.socketPath, entries: [...this.entries] }));
    } catch (_) {
      // Storage full or disabled: the in-memory outbox still resends while the page lives.
    }
  }

  // Outboxes other pages left behind (after a reload or a crash).
  static leftovers(storage = window.localStorage, exceptSessionId = null) {
    const found = [];
    for (let i = 0; i < storage.length; i += 1) {
      const key = storage.key(i);
      if (!key || !key.startsWith(PREFIX)) continue;
      const sessionId = key.slice(PREFIX.length);
      if (String(sessionId) === String(exceptSessionId)) continue;
      const stored = readJSON(storage, key);
      if (stored && stored.socketPath && Array.isArray(stored.entries) && stored.entries.length) {
        found.push({ sessionId, socketPath: stored.socketPath });
      }
    }
    return found;
  }
}

export class ConversationSocket extends EventTarget {
  constructor({ sessionId, socketPath, storage }) {
    super();
    this.sessionId = sessionId;
    this.outbox = new Outbox(sessionId, socketPath, storage);
    this.url = socketUrl(this.outbox.socketPath);
    this.ws = null;
    this.stopped = false;
    this.retryDelay = 500;
    this.pendingTools = new Map();
    this.everOpened = false;
  }

  start() {
    this.stopped = false;
    this._connect();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  saveItem(item) {
    this._enqueue(`item:${item.id}`, { type: "item", item });
  }

  // One entry per call, so a call reported while the socket is down is not lost when a
  // resume reports the next one: the server owes each minted key a reported call.
  reportCall(callId) {
    this._enqueue(`call:${callId}`, { type: "call", call_id: callId });
  }

  // A response's token usage (from `response.done`), counted once per response id.
  saveUsage(responseId, usage) {
    this._enqueue(`usage:${responseId}`, { type: "usage", response_id: responseId, usage });
  }

  end(reason) {
    this._enqueue("end", { type: "end", reason });
    return new Promise((resolve) => {
      this.addEventListener("ended", (event) => resolve(event.detail), { once: true });
    });
  }

  // Ask the output guardrail about the tutor's words so far (best effort, not kept).
  check(itemId, text) {
    this._send({ type: "check", item_id: itemId, text });
  }

  // Run a server-side tool; resolves with the output string for the model.
  runTool({ callId, name, args }) {
    return new Promise((resolve) => {
      const message = { type: "tool", call_id: callId, name, arguments: args };
      this.pendingTools.set(callId, { message, resolve });
      this._send(message);
    });
  }

  // Resolves once nothing is waiting to be acknowledged.
  drained() {
    if (this.outbox.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.outbox.size === 0) {
          this.removeEventListener("outbox", check);
          resolve();
        }
      };
      this.addEventListener("outbox", check);
    });
  }

  _enqueue(key, message) {
    this.outbox.put(key, message);
    this._emit("outbox", { size: this.outbox.size });
    this._send(message);
  }

  _send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  _connect() {
    if (this.stopped) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.retryDelay = 500;
      this._emit("state", { state: this.everOpened ? "reopened" : "open" });
      this.everOpened = true;
      this._flush();
    });
    ws.addEventListener("message", (event) => this._onMessage(event.data));
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (event.code === 4403 || event.code === 4404) {
        this._emit("state", { state: "refused", code: event.code });
        return;
      }
      this._emit("state", { state: "closed" });
      setTimeout(() => this._connect(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 8000);
    });
  }

  _flush() {
    // Items first, in conversation order; the end marker last.
    const messages = [...this.outbox.entries.values()];
    const rank = (m) => (m.type === "call" ? 0 : m.type === "end" ? 2 : 1);
    messages.sort((a, b) => rank(a) - rank(b) || ((a.item && a.item.order) || 0) - ((b.item && b.item.order) || 0));
    for (const message of messages) this._send(message);
    for (const { message } of this.pendingTools.values()) this._send(message);
  }

  _onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (_) {
      return;
    }
    switch (message.type) {
      case "ack":
        this.outbox.remove(`item:${message.item_id}`);
        this._emit("saved", { itemId: message.item_id, flagged: Boolean(message.flagged), message: message.message });
        this._emit("outbox", { size: this.outbox.size });
        break;
      case "call_ack":
        this.outbox.remove(`call:${message.call_id}`);
        this._emit("call", message);
        this._emit("outbox", { size: this.outbox.size });
        break;
      case "usage_ack":
        this.outbox.remove(`usage:${message.response_id}`);
        this._emit("outbox", { size: this.outbox.size });
        break;
      case "time_up":
        this._emit("timeup", message);
        break;
      case "ended":
        this.lastEnded = message;
        this.outbox.remove("end");
        this._emit("ended", message);
        this._emit("outbox", { size: this.outbox.size });
        break;
      case "tool_result": {
        const pending = this.pendingTools.get(message.call_id);
        if (pending) {
          this.pendingTools.delete(message.call_id);
          pending.resolve(message.output);
        }
        break;
      }
      case "error":
        if (message.item_id && (message.code === "invalid" || message.code === "too_large")) {
          // The server will never accept this one: stop resending it.
          this.outbox.remove(`item:${message.item_id}`);
          this._emit("outbox", { size: this.outbox.size });
        }
        if (message.response_id && ["invalid", "too_large", "too_many"].includes(message.code)) {
          this.outbox.remove(`usage:${message.response_id}`);
          this._emit("outbox", { size: this.outbox.size });
        }
        this._emit("servererror", message);
        break;
      default:
        this._emit("message", message);
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

function readJSON(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch (_) {
    return null;
  }
}
