import { test } from "node:test";
import assert from "node:assert/strict";

import { EventLedger, ResponseGate, TURNS, TURN_TEXT, TurnState } from "../../static/js/tutor/turn-taking.js";

const feed = (state, ...events) => events.map((event) => (state.onEvent(event), state.turn));

test("a voice turn goes listening, you are speaking, thinking, tutor speaking, listening", () => {
  const state = new TurnState();
  assert.equal(state.turn, TURNS.LISTENING);
  const turns = feed(
    state,
    { type: "input_audio_buffer.speech_started", item_id: "u1" },
    { type: "input_audio_buffer.speech_stopped", item_id: "u1" },
    { type: "response.created", response: { id: "r1" } },
    { type: "output_audio_buffer.started", response_id: "r1" },
    { type: "response.done", response: { id: "r1", status: "completed" } },
    { type: "output_audio_buffer.stopped", response_id: "r1" },
  );
  assert.deepEqual(turns, [
    TURNS.USER_SPEAKING, TURNS.THINKING, TURNS.THINKING, TURNS.TUTOR_SPEAKING,
    TURNS.TUTOR_SPEAKING, // the audio plays on after response.done
    TURNS.LISTENING,
  ]);
  assert.deepEqual(Object.keys(TURN_TEXT).sort(), Object.values(TURNS).sort());
});

test("a reply that calls a tool stays 'thinking' until the reply using its output", () => {
  const state = new TurnState();
  const turns = feed(
    state,
    { type: "input_audio_buffer.speech_stopped" },
    { type: "response.created", response: { id: "r1" } },
    { type: "response.done", response: { id: "r1", status: "completed", output: [{ type: "function_call", call_id: "c1" }] } },
    { type: "response.created", response: { id: "r2" } },
    { type: "output_audio_buffer.started", response_id: "r2" },
  );
  assert.deepEqual(turns, [TURNS.THINKING, TURNS.THINKING, TURNS.THINKING, TURNS.THINKING, TURNS.TUTOR_SPEAKING]);
  // A cancelled one does not wait for anything.
  state.reset();
  feed(state, { type: "response.created", response: { id: "r3" } }, { type: "response.done", response: { id: "r3", status: "cancelled", output: [{ type: "function_call" }] } });
  assert.equal(state.turn, TURNS.LISTENING);
  state.onEvent({ type: "response.done" });
  assert.equal(state.turn, TURNS.LISTENING);
});

test("the learner speaking over the tutor has the floor", () => {
  const state = new TurnState();
  feed(state, { type: "response.created", response: { id: "r1" } }, { type: "output_audio_buffer.started", response_id: "r1" });
  state.onEvent({ type: "input_audio_buffer.speech_started" });
  assert.equal(state.turn, TURNS.USER_SPEAKING);
  state.onEvent({ type: "output_audio_buffer.cleared", response_id: "r1" });
  state.onEvent({ type: "response.done", response: { id: "r1", status: "cancelled" } });
  assert.equal(state.audioPlaying, false);
  assert.equal(state.responseActive, false);
});

test("onEvent says whether anything shown changed", () => {
  const state = new TurnState();
  assert.equal(state.onEvent({ type: "response.output_audio_transcript.delta", delta: "Ho" }), false);
  assert.equal(state.onEvent({ type: "response.created", response: { id: "r1" } }), true);
  assert.equal(state.onEvent({ type: "response.created", response: { id: "r1" } }), false);
  assert.equal(state.onEvent(null), false);
});

test("an older response's audio stopping does not silence a newer one", () => {
  const state = new TurnState();
  feed(state, { type: "output_audio_buffer.started", response_id: "r1" }, { type: "output_audio_buffer.started", response_id: "r2" });
  state.onEvent({ type: "output_audio_buffer.stopped", response_id: "r1" });
  assert.equal(state.turn, TURNS.TUTOR_SPEAKING);
  state.onEvent({ type: "output_audio_buffer.stopped", response_id: "r2" });
  assert.equal(state.turn, TURNS.LISTENING);
});

test("interrupt cancels only a running response and clears only playing audio", () => {
  const state = new TurnState();
  assert.equal(state.canInterrupt, false);
  assert.deepEqual(state.interruptEvents(), []);
  state.onEvent({ type: "response.created", response: { id: "r1" } });
  assert.deepEqual(state.interruptEvents(), [{ type: "response.cancel" }]);
  state.onEvent({ type: "output_audio_buffer.started", response_id: "r1" });
  assert.deepEqual(state.interruptEvents(), [{ type: "response.cancel" }, { type: "output_audio_buffer.clear" }]);
  state.onEvent({ type: "response.done", response: { id: "r1" } });
  // After response.done the audio still plays: clear it, but cancel nothing.
  assert.equal(state.canInterrupt, true);
  assert.deepEqual(state.interruptEvents(), [{ type: "output_audio_buffer.clear" }]);
  state.onEvent({ type: "output_audio_buffer.stopped", response_id: "r1" });
  assert.equal(state.canInterrupt, false);
  state.onEvent({ type: "response.created", response: { id: "r2" } });
  state.reset();
  assert.equal(state.canInterrupt, false);
});

test("the response gate waits for response.created, not just for the send", () => {
  const gate = new ResponseGate();
  assert.equal(gate.request(), true, "idle: send now");
  assert.equal(gate.request(), false, "not confirmed yet: wait");
  assert.equal(gate.request(), false, "still one waiting, not two");
  gate.started();
  assert.equal(gate.active, true);
  assert.equal(gate.done(), true, "done: send the waiting one");
  assert.equal(gate.busy, true, "that one is on its way");
  gate.started();
  assert.equal(gate.done(), false, "nothing waited");
  assert.equal(gate.busy, false);
});

test("a refused response.create does not stall the next one", () => {
  const gate = new ResponseGate();
  gate.request();
  assert.equal(gate.refused(), false, "nothing waited");
  assert.equal(gate.request(), true, "the next typed turn is sent at once");
  assert.equal(gate.request(), false);
  assert.equal(gate.refused(), true, "the waiting one goes now");
});

test("a create refused because the server started a response itself is sent after it", () => {
  const gate = new ResponseGate();
  gate.request();
  assert.equal(gate.refused({ running: true }), false);
  assert.equal(gate.active, true);
  assert.equal(gate.done(), true, "sent once the server's response is done");
  gate.reset();
  assert.equal(gate.busy, false);
  assert.equal(gate.request(), true);
});

test("every client event gets its own event_id, and one it has is kept", () => {
  const ledger = new EventLedger({ prefix: "t" });
  const a = ledger.stamp({ type: "response.create" });
  const b = ledger.stamp({ type: "response.cancel" });
  assert.equal(a.event_id, "evt_t_1");
  assert.equal(b.event_id, "evt_t_2");
  assert.equal(ledger.stamp({ type: "session.update", event_id: "mine" }).event_id, "mine");
  const original = { type: "x" };
  ledger.stamp(original);
  assert.equal(original.event_id, undefined, "the caller's object is not changed");
  assert.ok(new EventLedger().stamp({ type: "x" }).event_id.length <= 32);
});

test("errors are matched to the event that caused them; expected ones are told apart", () => {
  const ledger = new EventLedger({ prefix: "t" });
  const cancel = ledger.stamp({ type: "response.cancel" });
  const create = ledger.stamp({ type: "response.create" });
  const item = ledger.stamp({ type: "conversation.item.create" });
  const error = (eventId, code, message = "m") => ({ type: "error", error: { type: "invalid_request_error", code, message, event_id: eventId } });

  const late = ledger.match(error(cancel.event_id, "response_cancel_not_active", "Cancellation failed: no active response found"));
  assert.deepEqual([late.type, late.expected], ["response.cancel", true]);
  const busy = ledger.match(error(create.event_id, "conversation_already_has_active_response"));
  assert.deepEqual([busy.type, busy.expected], ["response.create", true]);
  const bad = ledger.match(error(item.event_id, "invalid_value", "Bad item"));
  assert.deepEqual([bad.type, bad.expected, bad.message], ["conversation.item.create", false, "Bad item"]);
  const unknown = ledger.match(error("evt_other", "server_error"));
  assert.deepEqual([unknown.type, unknown.expected], [null, false]);
  // A cancel that found nothing is expected even when the API does not echo the event_id.
  assert.equal(ledger.match(error(null, "response_cancel_not_active")).expected, true);
  assert.equal(ledger.match({ type: "error" }).expected, false);
});

test("the ledger forgets old events", () => {
  const ledger = new EventLedger({ prefix: "t" });
  const first = ledger.stamp({ type: "response.cancel" });
  for (let i = 0; i < 250; i += 1) ledger.stamp({ type: "conversation.item.create" });
  assert.equal(ledger.match({ error: { event_id: first.event_id, code: "x" } }).type, null);
  assert.ok(ledger.sent.size <= 200);
});
