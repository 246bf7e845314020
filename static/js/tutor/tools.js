// Function calls: show each one, run it on the server through the conversation socket, and
// hand its output back to the model. A tool's output may hand the conversation to another
// persona (the oral quiz's examiner, and back): that part is applied here, not given to the model.

import { functionCallTurn } from "./events.js";
import { PERSONAS } from "./transcript.js";

export function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch (_) {
    return null;
  }
}

// A tool output's handoff, if it has one: the session config to apply, the persona, the output
// the model gets instead (the handoff replaced by `handoff_to`), and a finished quiz's score.
export function splitHandoff(output) {
  const parsed = parseJSON(output);
  if (!parsed || !parsed.handoff || !parsed.handoff.session) return null;
  const { handoff, ...rest } = parsed;
  return {
    session: handoff.session,
    persona: handoff.persona,
    output: JSON.stringify({ ...rest, handoff_to: handoff.persona }),
    finished: parsed.quiz_finished ? { score: parsed.score, max: parsed.max_score } : null,
  };
}

export class Tools {
  // `session` gives the current `socket` and `client`, and `requestResponse()` (the conversation).
  constructor({ session, transcript, view }) {
    this.session = session;
    this.transcript = transcript;
    this.view = view;
    this.persona = "tutor";
    this.handled = new Set();
  }

  reset() {
    this.handled.clear();
  }

  // Whether the server runs the tutor's tools itself, on the call's sideband (the key says).
  get serverTools() {
    return Boolean(this.session.grant && this.session.grant.server_tools);
  }

  // The call's item is complete: save it, run the tool (once per call id), relay the output.
  // With server tools the server has run it and answers the model itself: only show it.
  async onFunctionCall(item) {
    const { turn, text, raw } = functionCallTurn(item);
    this.transcript.complete(this.transcript.ensure(turn), text, raw);
    if (this.serverTools || this.handled.has(item.call_id)) return;
    this.handled.add(item.call_id);
    const socket = this.session.socket;
    if (!socket) return;
    const output = await socket.runTool({ callId: item.call_id, name: item.name, args: item.arguments || "" });
    const client = this.session.client;
    if (!client) return;
    client.send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: item.call_id, output: this.takeHandoff(output) },
    });
    this.session.requestResponse();
  }

  // A tool's output seen on the call. With server tools it is the server's answer: take the
  // persona it hands to and a finished quiz's score from it (the page sent none itself).
  onFunctionCallOutput(item) {
    if (!this.serverTools) return;
    const output = parseJSON(item.output || "");
    if (!output) return;
    if (output.handoff_to) this.setPersona(output.handoff_to);
    if (output.quiz_finished) {
      this.view.showNotice(`Oral quiz finished: ${output.score}/${output.max_score}. Your grade is saved.`);
    }
  }

  // "Quiz me": the server starts an oral quiz and hands the conversation to the examiner.
  async startQuiz() {
    const { socket, client } = this.session;
    if (!socket || !client) return;
    this.view.setQuizEnabled(false);
    const output = await socket.runTool({ callId: `quiz_${Date.now()}`, name: "start_oral_quiz", args: "{}" });
    const parsed = parseJSON(output);
    if (!parsed || parsed.error) {
      this.view.showNotice(`The quiz could not start: ${(parsed && parsed.error) || "unknown error"}.`, true);
      this.view.setQuizEnabled(true);
      return;
    }
    this.transcript.note(`quiz_button_${Date.now()}`, "start_oral_quiz", output);
    this.takeHandoff(output);
    this.session.requestResponse();
  }

  // Apply a handoff with `session.update`; the output for the model, without it.
  takeHandoff(output) {
    const handoff = splitHandoff(output);
    if (!handoff) return output;
    const client = this.session.client;
    if (client) client.send({ type: "session.update", session: handoff.session });
    this.setPersona(handoff.persona);
    if (handoff.finished) {
      this.view.showNotice(`Oral quiz finished: ${handoff.finished.score}/${handoff.finished.max}. Your grade is saved.`);
    }
    return handoff.output;
  }

  setPersona(persona) {
    this.persona = Object.hasOwn(PERSONAS, persona) ? persona : "tutor";
    this.view.showPersona(this.persona);
    // Only once live: "Quiz me" while connecting would have no call to hand over.
    this.view.setQuizEnabled(this.persona === "tutor" && Boolean(this.session.client) && this.session.live);
  }
}
