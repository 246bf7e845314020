// What a Realtime server event means for the page: a list of actions for the transcript, the
// tools and the view. Pure: no DOM, no network; `session.js` carries the actions out.
//
// Actions (each turn action names its transcript entry: id, role, kind, persona):
//   {type: "live"}                                the session is configured: the call is live
//   {type: "turn", turn}                          make sure the entry exists
//   {type: "append", turn, delta, unlessComplete} add streamed text to the entry
//   {type: "check", id}                           ask the guardrail about the tutor's words so far
//   {type: "complete", turn, text, raw}           the entry's final text: show it and save it
//   {type: "function_call", item}                 show the call, run the tool, relay its output
//   {type: "response_started"} / {type: "response_done"}
//   {type: "usage", responseId, usage}            what the response cost, for the usage ledger
//   {type: "notice", message, error}              tell the learner
//   {type: "error", event}                        the API's `error`: matched to what caused it
//
// Tool items (function_call, function_call_output) carry their `callId` (and the call its
// `name`): the transcript shows them as one chip per call, never as turns.

import { failureText } from "./activity.js";

const OPENING = ["connecting", "reconnecting"];

// Usage fields the server's ledger keeps.
const USAGE_FIELDS = ["input_tokens", "output_tokens", "total_tokens", "input_token_details", "output_token_details"];

export function eventActions(event, { state = "live", persona = "tutor" } = {}) {
  if (!event || typeof event.type !== "string") return [];
  const tutor = (id) => ({ id, role: "assistant", kind: "message", persona });
  const learner = (id) => ({ id, role: "user", kind: "message", persona: "tutor" });
  switch (event.type) {
    case "session.updated":
      // Once per connect: a persona handoff's `session.update` is answered while live.
      return OPENING.includes(state) ? [{ type: "live" }] : [];
    case "conversation.item.added":
    case "conversation.item.created":
    case "conversation.item.done":
      return itemActions(event.item, event.type === "conversation.item.done", persona);
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      return [
        { type: "append", turn: tutor(event.item_id), delta: event.delta || "", unlessComplete: false },
        { type: "check", id: event.item_id },
      ];
    case "response.output_audio_transcript.done":
      return [{ type: "complete", turn: tutor(event.item_id), text: event.transcript || "", raw: {} }];
    case "response.output_text.done":
      return [{ type: "complete", turn: tutor(event.item_id), text: event.text || "", raw: {} }];
    case "conversation.item.input_audio_transcription.delta":
      return [{ type: "append", turn: learner(event.item_id), delta: event.delta || "", unlessComplete: true }];
    case "conversation.item.input_audio_transcription.completed":
      return [{ type: "complete", turn: learner(event.item_id), text: (event.transcript || "").trim() || "[inaudible]", raw: {} }];
    case "conversation.item.input_audio_transcription.failed":
      return [{ type: "complete", turn: learner(event.item_id), text: "[not transcribed]", raw: {} }];
    case "response.output_item.done":
      return event.item && event.item.type === "function_call" ? [{ type: "function_call", item: event.item }] : [];
    // The arguments are complete here, but the call is acted on once, when its item is done
    // (`response.output_item.done` / `conversation.item.done`, which carry the whole item).
    case "response.function_call_arguments.done":
      return [];
    case "response.created":
      return [{ type: "response_started" }];
    case "response.done":
      return responseDoneActions(event.response);
    case "error":
      return [{ type: "error", event }];
    default:
      return [];
  }
}

function itemActions(item, done, persona) {
  if (!item || !item.id) return [];
  if (item.type === "message") {
    const role = item.role === "user" ? "user" : "assistant";
    const turn = { id: item.id, role, kind: "message", persona };
    const actions = [{ type: "turn", turn }];
    const text = messageText(item);
    if (item.role === "user") {
      // Speech is completed by its transcription; a typed message is complete as it is.
      const typed = (item.content || []).some((part) => part.type === "input_text");
      if (typed) actions.push({ type: "complete", turn, text, raw: {} });
    } else if (done && text) {
      actions.push({ type: "complete", turn, text, raw: {} });
    }
    return actions;
  }
  if (item.type === "function_call") {
    const actions = [{ type: "turn", turn: callTurn(item) }];
    if (done && item.status !== "in_progress") actions.push({ type: "function_call", item });
    return actions;
  }
  if (item.type === "function_call_output") {
    const turn = { id: item.id, role: "tool", kind: "function_call_output", persona: "tutor", callId: item.call_id || "" };
    const output = item.output || "";
    const actions = [{ type: "turn", turn }, { type: "complete", turn, text: output, raw: { call_id: item.call_id, output } }];
    // With server tools, the server answered this call on the sideband: the page learns a
    // persona handoff or a finished quiz from the output it sees on the call.
    if (done) actions.push({ type: "tool_output", item });
    return actions;
  }
  return [];
}

function responseDoneActions(response) {
  const actions = [];
  const usage = usageOf(response);
  if (usage) actions.push({ type: "usage", responseId: response.id, usage });
  actions.push({ type: "response_done" });
  if (response && response.status === "failed") {
    actions.push({ type: "notice", message: failureText(response.status_details), error: true });
  }
  return actions;
}

// What each response cost, for the server's usage ledger (null: nothing to report).
export function usageOf(response) {
  if (!response || typeof response.id !== "string" || !response.usage) return null;
  const usage = {};
  for (const field of USAGE_FIELDS) usage[field] = response.usage[field];
  return usage;
}

export function messageText(item) {
  return (item.content || [])
    .map((part) => part.text || part.transcript || "")
    .join(" ")
    .trim();
}

// The transcript entry of a function call, as shown and saved.
export function functionCallTurn(item) {
  return {
    turn: callTurn(item),
    text: `${item.name}(${item.arguments || ""})`,
    raw: { call_id: item.call_id, name: item.name, arguments: item.arguments || "" },
  };
}

function callTurn(item) {
  return { id: item.id, role: "assistant", kind: "function_call", persona: "tutor", callId: item.call_id || "", name: item.name || "" };
}

// The guardrail is asked about a reply as it streams: every so many characters, and at the
// end of each sentence.
export const CHECK_EVERY_CHARS = 40;

export function guardrailDue(text, checked) {
  const grown = text.length - checked;
  return grown >= CHECK_EVERY_CHARS || (grown > 0 && /[.!?…]\s*$/.test(text));
}
