import { test } from "node:test";
import assert from "node:assert/strict";

import * as protocol from "../../static/js/protocol.js";

const { CLOSE, FINAL_CLOSE_CODES, RECEIVE, SEND } = protocol;

test("the page sends exactly the server's message types", () => {
  // tutor/conversations.py PARSERS
  assert.deepEqual(Object.values(SEND).sort(), ["call", "check", "end", "item", "tool", "usage"]);
});

test("the page knows every message type the server replies with", () => {
  // tutor/consumers.py send_json(...)
  assert.deepEqual(
    Object.values(RECEIVE).sort(),
    ["ack", "call_ack", "ended", "error", "guardrail", "moved", "time_up", "tool_result", "usage_ack"],
  );
});

test("final close codes: signed out, forbidden, not found, session closed; 4503 and 1006 are retried", () => {
  assert.deepEqual([...FINAL_CLOSE_CODES].sort(), [4401, 4404, 4409]);
  assert.equal(CLOSE.TRY_AGAIN_LATER, 4503);
  for (const code of [4401, 4404, 4409]) assert.equal(protocol.isFinalClose(code), true, code);
  for (const code of [1000, 1001, 1006, 1011, 4403, 4503]) assert.equal(protocol.isFinalClose(code), false, code);
});

test("builders make the shapes the server parses", () => {
  const item = { id: "it_1", role: "user", kind: "message", text: "hola", order: 3, raw: {} };
  assert.deepEqual(protocol.itemMessage(item), { type: "item", item });
  assert.deepEqual(protocol.callMessage("rtc_1"), { type: "call", call_id: "rtc_1" });
  assert.deepEqual(protocol.toolMessage("c1", "f", "{}"), { type: "tool", call_id: "c1", name: "f", arguments: "{}" });
  assert.deepEqual(protocol.endMessage("user"), { type: "end", reason: "user" });
  assert.deepEqual(protocol.usageMessage("r1", { total_tokens: 3 }), { type: "usage", response_id: "r1", usage: { total_tokens: 3 } });
  assert.deepEqual(protocol.checkMessage("it_2", "so far"), { type: "check", item_id: "it_2", text: "so far" });
});

test("each kept message has one outbox key, and its acknowledgement settles that key", () => {
  const pairs = [
    [protocol.itemMessage({ id: "it_1" }), { type: "ack", item_id: "it_1" }],
    [protocol.callMessage("rtc_1"), { type: "call_ack", call_id: "rtc_1", seconds_left: 60 }],
    [protocol.usageMessage("r1", {}), { type: "usage_ack", response_id: "r1" }],
    [protocol.endMessage("user"), { type: "ended", session_id: 1, duration_seconds: 2 }],
  ];
  for (const [sent, reply] of pairs) {
    const key = protocol.outboxKey(sent);
    assert.ok(key, sent.type);
    assert.deepEqual(protocol.settledKeys(reply), [key], reply.type);
  }
  assert.equal(protocol.outboxKey(protocol.checkMessage("x", "y")), null, "checks are best effort, not kept");
  assert.equal(protocol.outboxKey(protocol.toolMessage("c", "f", "{}")), null);
});

test("an error settles an item or usage record only when the server will never take it", () => {
  assert.deepEqual(protocol.settledKeys({ type: "error", code: "invalid", item_id: "it_1" }), ["item:it_1"]);
  assert.deepEqual(protocol.settledKeys({ type: "error", code: "too_large", item_id: "it_1" }), ["item:it_1"]);
  assert.deepEqual(protocol.settledKeys({ type: "error", code: "server_error", item_id: "it_1" }), [], "resent later");
  assert.deepEqual(protocol.settledKeys({ type: "error", code: "too_many", response_id: "r1" }), ["usage:r1"]);
  // Past a storage cap an item is never taken: drop it.
  assert.deepEqual(protocol.settledKeys({ type: "error", code: "too_many", item_id: "it_1" }), ["item:it_1"]);
  assert.deepEqual(protocol.settledKeys({ type: "error", code: "session_ended", item_id: "it_1" }), ["item:it_1"]);
  assert.deepEqual(protocol.settledKeys({ type: "moved", message: "x" }), []);
});

test("the outbox is resent call first, items in conversation order, end last", () => {
  const messages = [
    protocol.endMessage("user"),
    protocol.itemMessage({ id: "b", order: 2 }),
    protocol.usageMessage("r1", {}),
    protocol.itemMessage({ id: "a", order: 1 }),
    protocol.callMessage("rtc_1"),
  ];
  const sorted = protocol.resendOrder(messages);
  assert.deepEqual(sorted.map((m) => m.type), ["call", "usage", "item", "item", "end"]);
  assert.deepEqual(sorted.filter((m) => m.type === "item").map((m) => m.item.id), ["a", "b"]);
});
