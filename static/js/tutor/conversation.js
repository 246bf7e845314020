// The live conversation: carries out what each Realtime event means (events.js) on the
// transcript, the tools and the view; who has the floor (turn-taking.js), typed messages,
// mute, interrupt, the guardrail, errors matched to the event that caused them, and one
// response at a time. The call and the socket belong to the session (session.js).

import { EventLedger, ResponseGate, TurnState } from "./turn-taking.js";
import { eventActions, guardrailDue } from "./events.js";

export class Conversation {
  constructor({ session, transcript, view }) {
    this.session = session;
    this.transcript = transcript;
    this.view = view;
    this.gate = new ResponseGate();
    this.turns = new TurnState();
    this.ledger = new EventLedger();
    this.tools = null; // attached by main.js
  }

  get client() {
    return this.session.client;
  }

  get socket() {
    return this.session.socket;
  }

  // The minted key's answer (whether the server runs the tools, say).
  get grant() {
    return this.session.grant;
  }

  get live() {
    return this.session.state.is("live");
  }

  // A new call: nobody speaks, nothing runs, nothing is queued.
  reset() {
    this.gate.reset();
    this.turns.reset();
    this.showTurn();
  }

  onServerEvent(event) {
    if (this.turns.onEvent(event)) this.showTurn();
    const context = { state: this.session.state.state, persona: this.tools.persona };
    for (const action of eventActions(event, context)) this.apply(action);
  }

  showTurn() {
    this.view.showTurn(this.live ? this.turns.turn : null);
    this.view.setInterruptEnabled(this.live && this.turns.canInterrupt);
  }

  apply(action) {
    const t = this.transcript;
    switch (action.type) {
      case "live":
        this.session.onLive();
        return this.showTurn();
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
        return void (this.gate.done() && this.sendCreate());
      case "usage":
        return void (this.socket && this.socket.saveUsage(action.responseId, action.usage));
      case "notice":
        return this.view.showNotice(action.message, action.error);
      case "error":
        return this.onError(action.event);
      default:
        return undefined;
    }
  }

  // The API's `error`, matched by event_id to the client event that caused it. Expected ones
  // (a cancel that found the response already finished, say) are logged, not shown.
  onError(event) {
    const error = this.ledger.match(event);
    if (error.type === "response.create") {
      const running = error.code === "conversation_already_has_active_response";
      if (this.gate.refused({ running })) this.sendCreate();
    }
    if (error.expected) {
      console.info("Realtime: expected error", error.type, error.code, error.message);
      return;
    }
    console.warn("Realtime error", error);
    const what = error.message || error.code || error.errorType || "an error";
    this.view.showNotice(`The voice service reported: ${what.replace(/\.$/, "")}.`, true);
  }

  // One response at a time: a request made while one runs (or is not confirmed yet) waits.
  requestResponse() {
    if (this.client && this.gate.request()) this.sendCreate();
  }

  sendCreate() {
    if (!this.client || !this.client.send({ type: "response.create" })) this.gate.refused();
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

  // Stop the tutor: cancel the response while one runs, drop the audio while it plays (it
  // plays on after response.done). With nothing to stop, nothing is sent.
  interrupt() {
    if (!this.client) return false;
    const events = this.turns.interruptEvents();
    for (const event of events) this.client.send(event);
    return events.length > 0;
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

  // The safety filter stopped a reply: cut it off (its audio too, even after response.done),
  // hide it, and say so.
  onGuardrail(itemId, message) {
    if (!this.transcript.withhold(itemId)) return;
    this.interrupt();
    this.view.showNotice(`${message || "The tutor's reply was stopped by the safety filter."} Staff will review it.`, true);
  }
}
