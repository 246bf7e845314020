// The live conversation: carries out what each Realtime event means (events.js) on the
// transcript, the tools and the view; typed messages, mute, interrupt, the guardrail, and one
// response at a time. The call and the socket belong to the session (session.js).

import { ResponseGate } from "./page-state.js";
import { eventActions, guardrailDue } from "./events.js";

export class Conversation {
  constructor({ session, transcript, view }) {
    this.session = session;
    this.transcript = transcript;
    this.view = view;
    this.gate = new ResponseGate();
    this.tools = null; // attached by main.js
  }

  get client() {
    return this.session.client;
  }

  // The minted key's answer (the tools read `server_tools` from it).
  get grant() {
    return this.session.grant;
  }

  get socket() {
    return this.session.socket;
  }

  onServerEvent(event) {
    const context = { state: this.session.state.state, persona: this.tools.persona };
    for (const action of eventActions(event, context)) this.apply(action);
  }

  apply(action) {
    const t = this.transcript;
    switch (action.type) {
      case "live":
        return this.session.onLive();
      case "turn":
        return void t.ensure(action.turn);
      case "append": {
        const entry = t.ensure(action.turn);
        if (!(action.unlessComplete && entry.complete)) t.append(entry, action.delta);
        return undefined;
      }
      case "check":
        return this.guardrailCheck(action.id);
      case "complete":
        return t.complete(t.ensure(action.turn), action.text, action.raw);
      case "function_call":
        return void this.tools.onFunctionCall(action.item);
      case "tool_output":
        return this.tools.onFunctionCallOutput(action.item);
      case "response_started":
        return this.gate.started();
      case "response_done":
        return void (this.gate.done() && this.requestResponse());
      case "usage":
        return void (this.socket && this.socket.saveUsage(action.responseId, action.usage));
      case "notice":
        return this.view.showNotice(action.message, action.error);
      default:
        return undefined;
    }
  }

  // One response at a time: a request made while one runs waits for `response.done`.
  requestResponse() {
    if (this.client && this.gate.request()) this.client.send({ type: "response.create" });
  }

  sendTyped() {
    const text = this.view.takeTyped();
    if (!text || !this.client) return;
    this.client.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    });
    this.requestResponse();
    this.view.clearTyped();
  }

  interrupt() {
    if (this.client) this.client.interrupt();
  }

  toggleMute() {
    this.session.muted = !this.session.muted;
    if (this.client) this.client.setMuted(this.session.muted);
    this.view.showMuted(this.session.muted);
  }

  guardrailCheck(id) {
    const entry = this.transcript.get(id);
    if (!this.socket || !entry || entry.flagged || !guardrailDue(entry.text, entry.checked)) return;
    entry.checked = entry.text.length;
    this.socket.check(entry.id, entry.text);
  }

  // The safety filter stopped a reply: cut it off, hide it, and say so.
  onGuardrail(itemId, message) {
    if (!this.transcript.withhold(itemId)) return;
    if (this.client && this.gate.active) this.client.interrupt();
    this.view.showNotice(`${message || "The tutor's reply was stopped by the safety filter."} Staff will review it.`, true);
  }
}
