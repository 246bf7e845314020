// The conversation socket: sends completed items to the server and keeps
// every unacknowledged message in an outbox in localStorage, so neither a
// dropped socket nor a page reload loses a turn. Resends until acknowledged;
// the server saves each item once, so resending is always safe.
// Each outbox belongs to one learner (its key names them), so a learner who signs in
// after another on the same browser never sends the other's leftovers.

import {
  CLOSE,
  RECEIVE,
  callMessage,
  checkMessage,
  endMessage,
  isFinalClose,
  itemMessage,
  outboxKey,
  resendOrder,
  settledKeys,
  toolMessage,
  usageMessage,
} from "./protocol.js";

const PREFIX = "parlance.outbox.";
const OPEN = 1; // WebSocket.OPEN

export function outboxStorageKey(learnerId, sessionId) {
  return `${PREFIX}${learnerId}.${sessionId}`;
}

export class Outbox {
  constructor({ learnerId, sessionId, socketPath = "", storage = window.localStorage }) {
    if (learnerId === undefined || learnerId === null || learnerId === "") throw new Error("An outbox needs a learner id.");
    this.key = outboxStorageKey(learnerId, sessionId);
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

  // Forget everything (the server will never take it): the stored copy too.
  clear() {
    this.entries.clear();
    this.persist();
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

  // This learner's outboxes that other pages left behind (after a reload or a crash).
  // Other learners' outboxes, and any without a learner in their key, are left alone.
  static leftovers({ learnerId, storage = window.localStorage, exceptSessionId = null }) {
    const mine = `${PREFIX}${learnerId}.`;
    const found = [];
    for (let i = 0; i < storage.length; i += 1) {
      const key = storage.key(i);
      if (!key || !key.startsWith(mine)) continue;
      const sessionId = key.slice(mine.length);
      if (!sessionId || sessionId.includes(".") || String(sessionId) === String(exceptSessionId)) continue;
      const stored = readJSON(storage, key);
      if (stored && stored.socketPath && Array.isArray(stored.entries) && stored.entries.length) {
        found.push({ sessionId, socketPath: stored.socketPath });
      }
    }
    return found;
  }
}

export class ConversationSocket extends EventTarget {
  // `url` and `WebSocketImpl` are for tests; the page derives the URL from `socketPath`.
  constructor({ learnerId, sessionId, socketPath, storage, url, WebSocketImpl }) {
    super();
    this.sessionId = sessionId;
    this.outbox = new Outbox({ learnerId, sessionId, socketPath, storage });
    this.url = url || socketUrl(this.outbox.socketPath);
    this.WebSocketImpl = WebSocketImpl || globalThis.WebSocket;
    this.ws = null;
    this.started = false;
    this.stopped = false;
    // Set to the close code when the server refused the socket for good.
    this.refusedCode = null;
    this.retryDelay = 500;
    this.pendingTools = new Map();
    this.everOpened = false;
    this.lastEnded = null;
  }

  start() {
    if (this.refusedCode !== null) return this;
    this.started = true;
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
    return Boolean(this.ws && this.ws.readyState === OPEN);
  }

  saveItem(item) {
    this._enqueue(itemMessage(item));
  }

  // One entry per call, so a call reported while the socket is down is not lost when a
  // resume reports the next one: the server owes each minted key a reported call.
  reportCall(callId) {
    this._enqueue(callMessage(callId));
  }

  // A response's token usage (from `response.done`), counted once per response id.
  saveUsage(responseId, usage) {
    this._enqueue(usageMessage(responseId, usage));
  }

  // Resolves with the server's `ended` message, or null if the server refused the socket.
  end(reason) {
    if (this.refusedCode !== null) return Promise.resolve(null);
    this._enqueue(endMessage(reason));
    return new Promise((resolve) => {
      const done = (detail) => {
        this.removeEventListener("ended", onEnded);
        this.removeEventListener("state", onState);
        resolve(detail);
      };
      const onEnded = (event) => done(event.detail);
      const onState = (event) => event.detail.state === "refused" && done(null);
      this.addEventListener("ended", onEnded);
      this.addEventListener("state", onState);
    });
  }

  // Ask the output guardrail about the tutor's words so far (best effort, not kept).
  check(itemId, text) {
    this._send(checkMessage(itemId, text));
  }

  // Run a server-side tool; resolves with the output string for the model.
  runTool({ callId, name, args }) {
    return new Promise((resolve) => {
      const message = toolMessage(callId, name, args);
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

  _enqueue(message) {
    // A refused socket keeps nothing: no resend of it could ever succeed.
    if (this.refusedCode !== null) return;
    this.outbox.put(outboxKey(message), message);
    this._emit("outbox", { size: this.outbox.size });
    this._send(message);
  }

  _send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  _connect() {
    if (this.stopped || this.refusedCode !== null) return;
    const ws = new this.WebSocketImpl(this.url);
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
      if (isFinalClose(event.code)) {
        this._refused(event.code);
        return;
      }
      this._emit("state", { state: "closed", code: event.code });
      setTimeout(() => this._connect(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 8000);
    });
  }

  // Not signed in, not this learner's session, or the session is closed: stop for good. The
  // outbox goes, as no server will ever acknowledge it, unless the learner was only signed
  // out: it is theirs, and goes out when they sign in again.
  _refused(code) {
    this.refusedCode = code;
    this.stopped = true;
    if (code !== CLOSE.NOT_SIGNED_IN) this.outbox.clear();
    this._emit("outbox", { size: this.outbox.size });
    this._emit("state", { state: "refused", code });
  }

  _flush() {
    for (const message of resendOrder(this.outbox.entries.values())) this._send(message);
    for (const { message } of this.pendingTools.values()) this._send(message);
  }

  _onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (!message || typeof message !== "object") return;
    const settled = settledKeys(message);
    for (const key of settled) this.outbox.remove(key);
    switch (message.type) {
      case RECEIVE.ACK:
        this._emit("saved", { itemId: message.item_id, flagged: Boolean(message.flagged), message: message.message });
        break;
      case RECEIVE.CALL_ACK:
        this._emit("call", message);
        break;
      case RECEIVE.USAGE_ACK:
        break;
      case RECEIVE.TIME_UP:
        this._emit("timeup", message);
        break;
      case RECEIVE.ENDED:
        this.lastEnded = message;
        this._emit("ended", message);
        break;
      case RECEIVE.TOOL_RESULT: {
        const pending = this.pendingTools.get(message.call_id);
        if (pending) {
          this.pendingTools.delete(message.call_id);
          pending.resolve(message.output);
        }
        break;
      }
      case RECEIVE.ERROR:
        this._emit("servererror", message);
        break;
      default:
        this._emit("message", message);
    }
    if (settled.length) this._emit("outbox", { size: this.outbox.size });
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
