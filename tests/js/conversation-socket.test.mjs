import { test, mock } from "node:test";
import assert from "node:assert/strict";

import { ConversationSocket, Outbox, outboxStorageKey } from "../../static/js/conversation-socket.js";

// localStorage's interface, in memory.
class FakeStorage {
  constructor(entries = {}) {
    this.map = new Map(Object.entries(entries));
  }
  get length() {
    return this.map.size;
  }
  key(i) {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.map.set(key, String(value));
  }
  removeItem(key) {
    this.map.delete(key);
  }
}

// A WebSocket the test opens, feeds and closes by hand.
class FakeWebSocket extends EventTarget {
  static instances = [];
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWebSocket.instances.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.closedWith = code;
  }
  // test side
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }
  receive(message) {
    this.dispatchEvent(Object.assign(new Event("message"), { data: JSON.stringify(message) }));
  }
  drop(code) {
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event("close"), { code }));
  }
}

function socketFor(storage, { learnerId = 7, sessionId = 12 } = {}) {
  FakeWebSocket.instances = [];
  return new ConversationSocket({
    learnerId, sessionId, socketPath: `/ws/tutor/sessions/${sessionId}/`, storage, url: "ws://test/", WebSocketImpl: FakeWebSocket,
  });
}

const item = (id, order) => ({ id, role: "user", kind: "message", text: id, order, raw: {} });

test("the outbox key names the learner and the session", () => {
  assert.equal(outboxStorageKey(7, 12), "parlance.outbox.7.12");
  assert.throws(() => new Outbox({ sessionId: 12, storage: new FakeStorage() }), /learner/);
});

test("unacknowledged items persist, are resent on reconnect in order, and go when acknowledged", () => {
  const storage = new FakeStorage();
  const socket = socketFor(storage);
  socket.saveItem(item("b", 2)); // before the socket opens: kept, not sent
  socket.saveItem(item("a", 1));
  socket.reportCall("rtc_1");
  const stored = JSON.parse(storage.getItem("parlance.outbox.7.12"));
  assert.equal(stored.socketPath, "/ws/tutor/sessions/12/");
  assert.equal(stored.entries.length, 3);

  socket.start();
  const ws = FakeWebSocket.instances[0];
  ws.open();
  assert.deepEqual(ws.sent.map((m) => m.type), ["call", "item", "item"]);
  assert.deepEqual(ws.sent.filter((m) => m.type === "item").map((m) => m.item.id), ["a", "b"]);

  const saved = [];
  socket.addEventListener("saved", (e) => saved.push(e.detail.itemId));
  ws.receive({ type: "ack", item_id: "a" });
  ws.receive({ type: "call_ack", call_id: "rtc_1", seconds_left: 60, hangup_at: 0 });
  assert.deepEqual(saved, ["a"]);
  assert.equal(socket.outbox.size, 1);
  ws.receive({ type: "ack", item_id: "b" });
  assert.equal(storage.getItem("parlance.outbox.7.12"), null, "an empty outbox leaves nothing behind");
});

test("a page reload finds its outbox again; only this learner's leftovers are delivered", () => {
  const storage = new FakeStorage();
  const mine = socketFor(storage, { learnerId: 7, sessionId: 12 });
  mine.saveItem(item("a", 0));
  const theirs = socketFor(storage, { learnerId: 8, sessionId: 13 });
  theirs.saveItem(item("x", 0));
  storage.setItem("parlance.outbox.14", JSON.stringify({ socketPath: "/ws/tutor/sessions/14/", entries: [["end", {}]] })); // no learner
  storage.setItem("parlance.outbox.70.15", JSON.stringify({ socketPath: "/ws/tutor/sessions/15/", entries: [["end", {}]] }));

  assert.deepEqual(Outbox.leftovers({ learnerId: 7, storage }), [{ sessionId: "12", socketPath: "/ws/tutor/sessions/12/" }]);
  assert.deepEqual(Outbox.leftovers({ learnerId: 8, storage }).map((l) => l.sessionId), ["13"]);
  assert.deepEqual(Outbox.leftovers({ learnerId: 7, storage, exceptSessionId: 12 }), []);
  const reloaded = new Outbox({ learnerId: 7, sessionId: 12, storage });
  assert.equal(reloaded.socketPath, "/ws/tutor/sessions/12/");
  assert.deepEqual([...reloaded.entries.keys()], ["item:a"]);
});

test("close 4401 is final but keeps the signed-out learner's outbox for their next sign-in", () => {
  const storage = new FakeStorage();
  const socket = socketFor(storage);
  socket.saveItem(item("a", 0));
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    socket.start();
    FakeWebSocket.instances[0].drop(4401);
    mock.timers.tick(60_000);
  } finally {
    mock.timers.reset();
  }
  assert.equal(FakeWebSocket.instances.length, 1, "no second socket");
  assert.equal(socket.outbox.size, 1);
  assert.ok(storage.getItem("parlance.outbox.7.12"), "kept in storage under the learner's key");
});

for (const code of [4404, 4409]) {
  test(`close ${code} is final: no reconnect, the outbox is dropped, end() resolves`, async () => {
    const storage = new FakeStorage();
    const socket = socketFor(storage);
    socket.saveItem(item("a", 0));
    const ending = socket.end("user");
    const states = [];
    socket.addEventListener("state", (e) => states.push(e.detail));
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      socket.start();
      FakeWebSocket.instances[0].drop(code);
      mock.timers.tick(60_000);
    } finally {
      mock.timers.reset();
    }
    assert.equal(FakeWebSocket.instances.length, 1, "no second socket");
    assert.deepEqual(states, [{ state: "refused", code }]);
    assert.equal(socket.outbox.size, 0);
    assert.equal(storage.getItem("parlance.outbox.7.12"), null);
    assert.equal(await ending, null);
    await socket.drained();
    socket.saveItem(item("b", 1));
    assert.equal(storage.length, 0, "a refused socket keeps nothing");
    socket.start();
    assert.equal(FakeWebSocket.instances.length, 1, "nor starts again");
  });
}

for (const code of [4503, 1006, 1011]) {
  test(`close ${code} is retried with backoff and the outbox resent`, () => {
    const storage = new FakeStorage();
    const socket = socketFor(storage);
    socket.saveItem(item("a", 0));
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      socket.start();
      FakeWebSocket.instances[0].drop(code);
      assert.equal(FakeWebSocket.instances.length, 1);
      mock.timers.tick(500);
      assert.equal(FakeWebSocket.instances.length, 2, "reconnected after 500 ms");
      FakeWebSocket.instances[1].drop(code);
      mock.timers.tick(500);
      assert.equal(FakeWebSocket.instances.length, 2, "the next wait is longer");
      mock.timers.tick(500);
      assert.equal(FakeWebSocket.instances.length, 3);
    } finally {
      mock.timers.reset();
    }
    FakeWebSocket.instances[2].open();
    assert.deepEqual(FakeWebSocket.instances[2].sent.map((m) => m.item.id), ["a"]);
    assert.ok(storage.getItem("parlance.outbox.7.12"), "kept until acknowledged");
  });
}

test("end() resolves with the server's ended message; errors drop only what the server will never take", async () => {
  const storage = new FakeStorage();
  const socket = socketFor(storage);
  socket.start();
  const ws = FakeWebSocket.instances[0];
  ws.open();
  socket.saveItem(item("bad", 0));
  socket.saveItem(item("retry", 1));
  socket.saveUsage("r1", { total_tokens: 1 });
  ws.receive({ type: "error", code: "invalid", item_id: "bad", message: "no" });
  ws.receive({ type: "error", code: "server_error", item_id: "retry", message: "later" });
  ws.receive({ type: "error", code: "too_many", response_id: "r1", message: "enough" });
  assert.deepEqual([...socket.outbox.entries.keys()], ["item:retry"]);
  const ending = socket.end("user");
  assert.equal(ws.sent.at(-1).type, "end");
  ws.receive({ type: "ended", session_id: 12, duration_seconds: 3.5 });
  assert.deepEqual(await ending, { type: "ended", session_id: 12, duration_seconds: 3.5 });
  assert.equal(socket.lastEnded.duration_seconds, 3.5);
});

test("a tool call resolves with its result; time_up and moved reach the page", async () => {
  const socket = socketFor(new FakeStorage());
  socket.start();
  const ws = FakeWebSocket.instances[0];
  ws.open();
  const result = socket.runTool({ callId: "c1", name: "f", args: "{}" });
  assert.deepEqual(ws.sent.at(-1), { type: "tool", call_id: "c1", name: "f", arguments: "{}" });
  ws.receive({ type: "tool_result", call_id: "c1", output: '{"ok":true}' });
  assert.equal(await result, '{"ok":true}');
  const heard = [];
  socket.addEventListener("timeup", (e) => heard.push(e.detail.type));
  socket.addEventListener("message", (e) => heard.push(e.detail.type));
  ws.receive({ type: "time_up", reason: "time_limit", message: "Time is up." });
  ws.receive({ type: "moved", message: "elsewhere" });
  assert.deepEqual(heard, ["time_up", "moved"]);
});
