// Who has the floor in a live call, and what the page may send about it. Pure: no DOM, no
// network; conversation.js feeds it the Realtime events and sends what it says.
//
// - TurnState: listening / you are speaking / tutor is thinking / tutor is speaking, from
//   input_audio_buffer.speech_started/stopped, response.created/done and
//   output_audio_buffer.started/stopped/cleared; and what Interrupt has to send.
// - ResponseGate: one response.create at a time, sent again only once the API confirmed or
//   finished the previous one.
// - EventLedger: every client event gets an event_id; an `error` is matched to the event that
//   caused it, and the expected ones are told apart from those the learner should hear about.

export const TURNS = Object.freeze({
  LISTENING: "listening",
  USER_SPEAKING: "user-speaking",
  THINKING: "thinking",
  TUTOR_SPEAKING: "tutor-speaking",
});

// The indicator's words (the polite live region reads them).
export const TURN_TEXT = Object.freeze({
  [TURNS.LISTENING]: "Listening",
  [TURNS.USER_SPEAKING]: "You are speaking",
  [TURNS.THINKING]: "Tutor is thinking",
  [TURNS.TUTOR_SPEAKING]: "Tutor is speaking",
});

export class TurnState {
  constructor() {
    this.reset();
  }

  // A new call: nobody is speaking, nothing is running.
  reset() {
    this.userSpeaking = false;
    this.awaitingReply = false; // the learner's turn ended; the reply is not confirmed yet
    this.responseId = null; // the response the API is generating
    this.playing = null; // the response whose audio is playing
  }

  get responseActive() {
    return this.responseId !== null;
  }

  get audioPlaying() {
    return this.playing !== null;
  }

  get turn() {
    if (this.userSpeaking) return TURNS.USER_SPEAKING;
    if (this.audioPlaying) return TURNS.TUTOR_SPEAKING;
    if (this.responseActive || this.awaitingReply) return TURNS.THINKING;
    return TURNS.LISTENING;
  }

  // Interrupt has something to stop.
  get canInterrupt() {
    return this.responseActive || this.audioPlaying;
  }

  // What Interrupt sends: response.cancel only while a response runs (else the API answers
  // with an error), output_audio_buffer.clear while its audio plays (it plays on after
  // response.done).
  interruptEvents() {
    const events = [];
    if (this.responseActive) events.push({ type: "response.cancel" });
    if (this.audioPlaying) events.push({ type: "output_audio_buffer.clear" });
    return events;
  }

  // A server event; true when the turn (or what Interrupt can do) changed.
  onEvent(event) {
    if (!event || typeof event.type !== "string") return false;
    const before = `${this.turn}|${this.canInterrupt}`;
    switch (event.type) {
      case "input_audio_buffer.speech_started":
        this.userSpeaking = true;
        this.awaitingReply = false;
        break;
      case "input_audio_buffer.speech_stopped":
        this.userSpeaking = false;
        this.awaitingReply = true;
        break;
      case "response.created":
        this.awaitingReply = false;
        this.responseId = (event.response && event.response.id) || "response";
        break;
      case "response.done": // the API runs one response at a time
        this.responseId = null;
        // A response that called a tool is followed by the one that uses its output.
        this.awaitingReply = calledTool(event.response);
        break;
      case "output_audio_buffer.started":
        this.playing = event.response_id || "audio";
        break;
      case "output_audio_buffer.stopped":
      case "output_audio_buffer.cleared":
        // A later response's audio may already play when an earlier one's stops.
        if (event.type.endsWith("cleared") || !event.response_id || event.response_id === this.playing) this.playing = null;
        break;
      default:
        return false;
    }
    return before !== `${this.turn}|${this.canInterrupt}`;
  }
}

function calledTool(response) {
  const output = response && Array.isArray(response.output) ? response.output : [];
  return Boolean(response) && response.status === "completed" && output.some((item) => item && item.type === "function_call");
}

// One response at a time. `request()` says whether to send response.create now; a request
// made meanwhile is sent once the running (or not yet confirmed) one is done. A refused
// create does not stall the next one.
export class ResponseGate {
  constructor() {
    this.reset();
  }

  reset() {
    this.sent = false; // a response.create is on its way, not yet confirmed
    this.active = false; // a response runs (ours, or one the server's voice detection made)
    this.wanted = false; // one more is asked for
  }

  get busy() {
    return this.sent || this.active;
  }

  request() {
    if (this.busy) {
      this.wanted = true;
      return false;
    }
    this.sent = true;
    return true;
  }

  // response.created: confirmed (or the server started one itself).
  started() {
    this.sent = false;
    this.active = true;
  }

  // response.done. True: send the waiting response.create now.
  done() {
    this.active = false;
    this.sent = false;
    return this.takeWanted();
  }

  // Our response.create was refused. `running`: because a response runs already (one the
  // server's voice detection made): ours is sent after it. True: send it now.
  refused({ running = false } = {}) {
    this.sent = false;
    if (running) {
      this.active = true;
      this.wanted = true;
      return false;
    }
    return this.takeWanted();
  }

  takeWanted() {
    if (!this.wanted) return false;
    this.wanted = false;
    this.sent = true;
    return true;
  }
}

// Error codes that answer a race the page cannot avoid, not a fault: logged, never shown.
export const EXPECTED_ERRORS = Object.freeze({
  "response.cancel": ["response_cancel_not_active"],
  "output_audio_buffer.clear": null, // null: any error (nothing was playing any more)
  "response.create": ["conversation_already_has_active_response"],
});

const KEEP = 200;

export class EventLedger {
  constructor({ prefix = randomPrefix() } = {}) {
    this.prefix = prefix;
    this.count = 0;
    this.sent = new Map(); // event_id -> type, the last KEEP events
  }

  // The event with its own event_id (one it has already is kept).
  stamp(event) {
    const stamped = event.event_id ? event : { ...event, event_id: `evt_${this.prefix}_${++this.count}` };
    this.sent.set(stamped.event_id, stamped.type);
    if (this.sent.size > KEEP) this.sent.delete(this.sent.keys().next().value);
    return stamped;
  }

  // An `error` event: the type of the client event it answers (null: unknown), its code and
  // message, and whether it is expected.
  match(event) {
    const error = (event && event.error) || {};
    const eventId = error.event_id || null;
    const type = (eventId && this.sent.get(eventId)) || null;
    const code = error.code || "";
    const expectedCodes = type ? EXPECTED_ERRORS[type] : undefined;
    const expected =
      code === "response_cancel_not_active" || (type !== null && (expectedCodes === null || (expectedCodes || []).includes(code)));
    return { type, eventId, code, message: error.message || "", errorType: error.type || "", expected };
  }
}

function randomPrefix() {
  return Math.random().toString(36).slice(2, 8) || "page";
}
