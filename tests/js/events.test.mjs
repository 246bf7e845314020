import { test } from "node:test";
import assert from "node:assert/strict";

import { eventActions, functionCallTurn, guardrailDue, usageOf } from "../../static/js/tutor/events.js";

const types = (actions) => actions.map((a) => a.type);
const tutorTurn = (id, persona = "tutor") => ({ id, role: "assistant", kind: "message", persona });
const learnerTurn = (id) => ({ id, role: "user", kind: "message", persona: "tutor" });

test("session.updated makes a connecting or reconnecting page live, and nothing else", () => {
  const event = { type: "session.updated", session: {} };
  assert.deepEqual(eventActions(event, { state: "connecting" }), [{ type: "live" }]);
  assert.deepEqual(eventActions(event, { state: "reconnecting" }), [{ type: "live" }]);
  // A persona handoff's session.update is answered while live: not a second "live".
  assert.deepEqual(eventActions(event, { state: "live" }), []);
  for (const state of ["idle", "failed", "ended", "time_up", "moved"]) assert.deepEqual(eventActions(event, { state }), [], state);
});

test("response.created and response.done drive the response gate", () => {
  assert.deepEqual(eventActions({ type: "response.created", response: { id: "r1" } }), [{ type: "response_started" }]);
  const usage = { input_tokens: 5, output_tokens: 7, total_tokens: 12, input_token_details: { cached_tokens: 0 }, output_token_details: {}, extra: 1 };
  const completed = eventActions({ type: "response.done", response: { id: "r1", status: "completed", usage } });
  assert.deepEqual(completed, [
    { type: "usage", responseId: "r1", usage: { input_tokens: 5, output_tokens: 7, total_tokens: 12, input_token_details: { cached_tokens: 0 }, output_token_details: {} } },
    { type: "response_done" },
  ]);
});

test("a cancelled response is done without a notice; a failed one tells the learner why", () => {
  assert.deepEqual(eventActions({ type: "response.done", response: { id: "r2", status: "cancelled" } }), [{ type: "response_done" }]);
  const failed = eventActions({
    type: "response.done",
    response: { id: "r3", status: "failed", status_details: { error: { message: "rate limited" } }, usage: { total_tokens: 1 } },
  });
  assert.deepEqual(types(failed), ["usage", "response_done", "notice"]);
  // The API promises the error's type and code, not its message: they are what the page says.
  assert.deepEqual(failed[2], { type: "notice", message: "The tutor could not answer: rate limited. Say something or type to try again.", error: true });
  const typed = eventActions({
    type: "response.done",
    response: { id: "r4", status: "failed", status_details: { type: "failed", error: { type: "server_error", code: "upstream_timeout" } } },
  });
  assert.match(typed[1].message, /had a problem on its side \(upstream timeout\)/);
  const bare = eventActions({ type: "response.done", response: { status: "failed" } });
  assert.deepEqual(types(bare), ["response_done", "notice"]);
  assert.doesNotMatch(bare[1].message, /unknown error/);
  assert.deepEqual(eventActions({ type: "response.done" }), [{ type: "response_done" }]);
});

test("usage is reported only with a response id and usage", () => {
  assert.equal(usageOf(null), null);
  assert.equal(usageOf({ id: "r1" }), null);
  assert.equal(usageOf({ id: 7, usage: {} }), null);
  assert.deepEqual(Object.keys(usageOf({ id: "r1", usage: { total_tokens: 2 } })).sort(), [
    "input_token_details", "input_tokens", "output_token_details", "output_tokens", "total_tokens",
  ]);
});

test("output_audio_buffer.started/stopped change nothing on the page", () => {
  assert.deepEqual(eventActions({ type: "output_audio_buffer.started", response_id: "r1" }), []);
  assert.deepEqual(eventActions({ type: "output_audio_buffer.stopped", response_id: "r1" }), []);
});

test("conversation.item.added shows a turn; the tutor's turn completes when done", () => {
  const item = { id: "it_1", type: "message", role: "assistant", status: "in_progress", content: [] };
  assert.deepEqual(eventActions({ type: "conversation.item.added", item }, { persona: "examiner" }), [
    { type: "turn", turn: tutorTurn("it_1", "examiner") },
  ]);
  const done = { ...item, status: "completed", content: [{ type: "output_audio", transcript: "¡Hola!" }] };
  assert.deepEqual(eventActions({ type: "conversation.item.done", item: done }), [
    { type: "turn", turn: tutorTurn("it_1") },
    { type: "complete", turn: tutorTurn("it_1"), text: "¡Hola!", raw: {} },
  ]);
  // Done but empty: nothing to save yet (the transcript events bring the words).
  assert.deepEqual(types(eventActions({ type: "conversation.item.done", item: { ...item, content: [] } })), ["turn"]);
});

test("a typed message is complete as added; speech waits for its transcription", () => {
  const typed = { id: "it_2", type: "message", role: "user", content: [{ type: "input_text", text: "Mi gato es negro" }] };
  assert.deepEqual(eventActions({ type: "conversation.item.added", item: typed }), [
    { type: "turn", turn: learnerTurn("it_2") },
    { type: "complete", turn: learnerTurn("it_2"), text: "Mi gato es negro", raw: {} },
  ]);
  const spoken = { id: "it_3", type: "message", role: "user", content: [{ type: "input_audio", transcript: null }] };
  assert.deepEqual(types(eventActions({ type: "conversation.item.done", item: spoken })), ["turn"]);
  assert.deepEqual(eventActions({ type: "conversation.item.added", item: { type: "message" } }), [], "no id, no turn");
  assert.deepEqual(eventActions({ type: "conversation.item.added" }), []);
});

test("input_audio_transcription.completed completes the learner's turn, trimmed or [inaudible]", () => {
  const completed = (transcript) => eventActions({ type: "conversation.item.input_audio_transcription.completed", item_id: "it_3", transcript });
  assert.deepEqual(completed("  the word is gato "), [{ type: "complete", turn: learnerTurn("it_3"), text: "the word is gato", raw: {} }]);
  assert.equal(completed("   ")[0].text, "[inaudible]");
  assert.equal(completed(undefined)[0].text, "[inaudible]");
  const failed = eventActions({ type: "conversation.item.input_audio_transcription.failed", item_id: "it_3" });
  assert.equal(failed[0].text, "[not transcribed]");
  const delta = eventActions({ type: "conversation.item.input_audio_transcription.delta", item_id: "it_3", delta: "the" });
  assert.deepEqual(delta, [{ type: "append", turn: learnerTurn("it_3"), delta: "the", unlessComplete: true }]);
});

test("the tutor's streamed words are appended and checked by the guardrail as they come", () => {
  for (const type of ["response.output_audio_transcript.delta", "response.output_text.delta"]) {
    assert.deepEqual(eventActions({ type, item_id: "it_4", delta: "Hola" }, { persona: "examiner" }), [
      { type: "append", turn: tutorTurn("it_4", "examiner"), delta: "Hola", unlessComplete: false },
      { type: "check", id: "it_4" },
    ]);
  }
  assert.deepEqual(eventActions({ type: "response.output_audio_transcript.done", item_id: "it_4", transcript: "Hola." }), [
    { type: "complete", turn: tutorTurn("it_4"), text: "Hola.", raw: {} },
  ]);
  assert.equal(eventActions({ type: "response.output_text.done", item_id: "it_4", text: "Hi" })[0].text, "Hi");
});

test("a function call is acted on when its item is done, with the whole item", () => {
  const item = { id: "fc_1", type: "function_call", call_id: "call_1", name: "record_word_practice", arguments: '{"word":"gato"}', status: "completed" };
  assert.deepEqual(eventActions({ type: "response.output_item.done", item }), [{ type: "function_call", item }]);
  assert.deepEqual(eventActions({ type: "conversation.item.done", item }), [
    { type: "turn", turn: { id: "fc_1", role: "assistant", kind: "function_call", persona: "tutor", callId: "call_1", name: "record_word_practice" } },
    { type: "function_call", item },
  ]);
  // Added, or done while still in progress: shown, not run.
  assert.deepEqual(types(eventActions({ type: "conversation.item.added", item: { ...item, status: "in_progress" } })), ["turn"]);
  assert.deepEqual(types(eventActions({ type: "conversation.item.done", item: { ...item, status: "in_progress" } })), ["turn"]);
  // The arguments' own done event does not run it a second time.
  assert.deepEqual(eventActions({ type: "response.function_call_arguments.done", item_id: "fc_1", call_id: "call_1", arguments: "{}" }), []);
  // Other output items are not calls.
  assert.deepEqual(eventActions({ type: "response.output_item.done", item: { id: "m", type: "message" } }), []);
});

test("a function call's transcript entry and a tool output's", () => {
  const item = { id: "fc_1", type: "function_call", call_id: "call_1", name: "f", arguments: "" };
  assert.deepEqual(functionCallTurn(item), {
    turn: { id: "fc_1", role: "assistant", kind: "function_call", persona: "tutor", callId: "call_1", name: "f" },
    text: "f()",
    raw: { call_id: "call_1", name: "f", arguments: "" },
  });
  const output = { id: "out_1", type: "function_call_output", call_id: "call_1", output: '{"ok":true}' };
  const turn = { id: "out_1", role: "tool", kind: "function_call_output", persona: "tutor", callId: "call_1" };
  assert.deepEqual(eventActions({ type: "conversation.item.added", item: output }), [
    { type: "turn", turn },
    { type: "complete", turn, text: '{"ok":true}', raw: { call_id: "call_1", output: '{"ok":true}' } },
  ]);
  // Once done, the output also goes to the tools (a server-run call's handoff or quiz score).
  assert.deepEqual(eventActions({ type: "conversation.item.done", item: output }).at(-1), { type: "tool_output", item: output });
});

test("an error event goes to be matched with what caused it, not straight to the learner", () => {
  const event = { type: "error", error: { message: "bad request", event_id: "evt_1" } };
  assert.deepEqual(eventActions(event), [{ type: "error", event }]);
});

test("unknown or malformed events do nothing", () => {
  assert.deepEqual(eventActions({ type: "rate_limits.updated" }), []);
  assert.deepEqual(eventActions({}), []);
  assert.deepEqual(eventActions(null), []);
});

test("the guardrail is asked every 40 characters and at each sentence's end", () => {
  assert.equal(guardrailDue("Hola", 0), false);
  assert.equal(guardrailDue("Hola.", 0), true);
  assert.equal(guardrailDue("Hola.", 5), false, "nothing new");
  assert.equal(guardrailDue("x".repeat(40), 0), true);
  assert.equal(guardrailDue("x".repeat(79), 40), false);
  assert.equal(guardrailDue("¿Qué tal? ", 0), true);
});
