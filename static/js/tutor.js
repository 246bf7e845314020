// The tutor page: mint a key, connect over WebRTC, show the live transcript,
// save completed items through the conversation socket, run server tools.

import { RealtimeClient, RealtimeError } from "./realtime-client.js";
import { ConversationSocket, Outbox } from "./conversation-socket.js";

const RESUME_GRACE_MS = 3000;
const PERSONAS = { tutor: "Tutor", examiner: "Examiner" };
const CHECK_EVERY_CHARS = 40;
const MAX_RESUMES = 3;
const RESUME_RETRY_MS = 1000;
const RESUME_AFTER_CLOSE_MS = 1000;
// A key with less life left than this is not worth a connect: mint a fresh one.
const KEY_MARGIN_MS = 10000;
// The conversation socket opens when the session is live, or after this long at the latest.
const SOCKET_DELAY_MS = 3000;
// Refusals of a resume that mean the session is over: stop, don't retry.
const FINAL_CODES = new Set(["time_limit", "minutes_used", "session_ended", "not_found"]);

class Transcript {
  constructor(list) {
    this.list = list;
    this.entries = new Map();
    this.nextOrder = 0;
  }

  ensure(id, { role, kind = "message", persona = "tutor" }) {
    let entry = this.entries.get(id);
    if (entry) return entry;
    const placeholder = this.list.querySelector("[data-placeholder]");
    if (placeholder) placeholder.remove();
    const li = document.createElement("li");
    const cssRole = kind === "message" ? role : "tool";
    li.className = `turn turn-${cssRole} pending unsaved`;
    li.dataset.itemId = id;
    li.dataset.role = role;
    li.dataset.kind = kind;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = kind !== "message" ? "tool" : role === "user" ? "You" : PERSONAS[persona] || "Tutor";
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = role === "user" && kind === "message" ? "…" : "";
    li.append(who, text);
    this.list.append(li);
    entry = { id, role, kind, persona, text: "", order: this.nextOrder++, li, textEl: text, complete: false, savedText: null, flagged: false, checked: 0 };
    this.entries.set(id, entry);
    this.scroll();
    return entry;
  }

  append(entry, delta) {
    entry.text += delta;
    if (!entry.flagged) entry.textEl.textContent = entry.text;
    this.scroll();
  }

  set(entry, text) {
    entry.text = text;
    if (!entry.flagged) entry.textEl.textContent = text || "…";
    this.scroll();
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }
}

class TutorPage {
  constructor(root) {
    this.root = root;
    this.tokenUrl = root.dataset.tokenUrl;
    this.csrfToken = root.dataset.csrfToken;
    this.statusText = root.querySelector("[data-status]");
    this.notice = root.querySelector("[data-notice]");
    this.meter = root.querySelector("[data-meter]");
    this.personaBadge = root.querySelector("[data-persona-badge]");
    this.buttons = {
      start: root.querySelector('[data-action="start"]'),
      mute: root.querySelector('[data-action="mute"]'),
      interrupt: root.querySelector('[data-action="interrupt"]'),
      end: root.querySelector('[data-action="end"]'),
      quiz: root.querySelector('[data-action="quiz"]'),
    };
    this.composer = root.querySelector("[data-composer]");
    this.input = this.composer.querySelector("input");
    this.sendButton = this.composer.querySelector("button");
    this.savedCount = root.querySelector("[data-saved-count]");
    this.pending = root.querySelector("[data-pending]");
    this.pendingCount = root.querySelector("[data-pending-count]");
    this.audio = root.querySelector("[data-remote-audio]");
    this.timeLeft = root.querySelector("[data-time-left]");
    this.countdown = null;
    this.timeIsUp = false;
    this.transcript = new Transcript(root.querySelector("[data-transcript]"));
    this.client = null;
    this.socket = null;
    this.session = null;
    this.mic = null;
    this.muted = false;
    this.handledCalls = new Set();
    this.persona = "tutor";
    this.responseActive = false;
    this.responseWanted = false;
    this.greeted = false;
    this.resumes = 0;
    this.resumeTimer = null;
    this.saved = 0;
    // The server charges every key it mints until the page reports the call made with it,
    // so a key that has not opened a call yet is used again rather than a new one minted.
    this.keyUnused = false;
    this.keyUsableUntil = 0;
    // Set when the first connect of a session failed: "Try again" reuses that session.
    this.retrySession = false;
    this.socketStarted = false;
    this.socketTimer = null;
    // Set when a start was refused because the learner has a session open: the next start
    // continues that one.
    this.continueId = null;

    this.buttons.start.addEventListener("click", () => this.start());
    this.buttons.mute.addEventListener("click", () => this.toggleMute());
    this.buttons.interrupt.addEventListener("click", () => this.client && this.client.interrupt());
    this.buttons.end.addEventListener("click", () => this.end("user"));
    this.buttons.quiz.addEventListener("click", () => this.startQuiz());
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendTyped();
    });
    window.addEventListener("pagehide", () => this.onPageHide());
    this.setState("idle");
    this.flushLeftovers();
  }

  // ---- lifecycle ---------------------------------------------------------

  async start() {
    this.timeIsUp = false;
    this.hideNotice();
    this.buttons.start.disabled = true;
    this.setState("connecting");
    try {
      if (this.retrySession && this.session && this.socket) {
        // The first connect failed: try the same session again, with its key if still good.
        this.session = await this.keyFor(this.session.session_id);
        if (!this.mic) this.mic = await this.openMicrophone();
      } else {
        // A new session, or the learner's open one continued here (see `fail`).
        const body = this.continueId ? { session_id: this.continueId } : {};
        this.continueId = null;
        const [mic, session] = await this.microphoneAndKey(body);
        this.mic = mic;
        this.session = session;
        this.socket = new ConversationSocket({ sessionId: session.session_id, socketPath: session.socket_url });
        this.socketStarted = false;
        this.wireSocket(this.socket);
      }
      this.retrySession = true;
      await this.connect();
      this.retrySession = false;
      // The socket opens once the session is live (or after a moment), so it does not compete
      // with setting the call up; its outbox holds the call id till then.
      this.socketTimer = setTimeout(() => this.startSocket(), SOCKET_DELAY_MS);
    } catch (err) {
      this.fail(err);
    }
  }

  // The microphone and the key. In parallel when the microphone is already allowed; else
  // the learner answers the browser's prompt first, so the key does not age meanwhile.
  async microphoneAndKey(body) {
    let granted = false;
    try {
      const status = navigator.permissions && (await navigator.permissions.query({ name: "microphone" }));
      granted = Boolean(status && status.state === "granted");
    } catch (_) { /* this browser cannot say: ask first */ }
    if (granted) return Promise.all([this.openMicrophone(), this.mint(body)]);
    const mic = await this.openMicrophone();
    return [mic, await this.mint(body)];
  }

  // A key for ``sessionId``: the current one while it has opened no call and has life left.
  async keyFor(sessionId) {
    if (this.keyUnused && this.session && Date.now() < this.keyUsableUntil) return this.session;
    return this.mint({ session_id: sessionId });
  }

  startSocket() {
    clearTimeout(this.socketTimer);
    if (this.socketStarted || !this.socket) return;
    this.socketStarted = true;
    this.socket.start();
  }

  async connect() {
    const client = new RealtimeClient({ audioElement: this.audio });
    this.client = client;
    this.responseActive = false;
    this.responseWanted = false;
    this.setPersona("tutor");
    client.addEventListener("serverevent", (event) => this.onServerEvent(event.detail));
    client.addEventListener("connectionstate", (event) => this.onConnectionState(client, event.detail));
    client.addEventListener("channelclose", () => this.onConnectionState(client, "failed"));
    const socket = this.socket;
    try {
      await client.connect({
        callsUrl: this.session.calls_url,
        clientSecret: this.session.client_secret,
        micStream: this.mic,
        onCall: (callId) => {
          this.keyUnused = false;
          if (callId) socket.reportCall(callId);
        },
      });
    } catch (err) {
      // A refused key (expired, say) is no good for another try either.
      if (err instanceof RealtimeError && err.status === 401) this.keyUnused = false;
      throw err;
    }
    client.setMuted(this.muted);
    // Ask for the session as configured by the server; `session.updated` means live.
    client.send({ type: "session.update", session: { type: "realtime" } });
  }

  // Stop the call, the microphone and the controls; the page's socket, now detached from it.
  stopHere() {
    clearTimeout(this.resumeTimer);
    this.stopCountdown();
    this.setControls(false);
    if (this.client) this.client.close();
    this.client = null;
    this.stopMicrophone();
    this.setState("ended");
    const socket = this.socket;
    this.socket = null;
    this.retrySession = false;
    this.buttons.end.disabled = true;
    return socket;
  }

  async end(reason, { notice = "" } = {}) {
    const socket = this.stopHere();
    if (!socket) return;
    // Whatever is not acknowledged stays in the outbox and is sent on the next visit.
    const ended = await withTimeout(socket.end(reason).then(() => socket.drained()).then(() => socket.lastEnded), 8000);
    socket.stop();
    const seconds = ended && ended.duration_seconds;
    if (notice) {
      this.showNotice(
        seconds != null
          ? `${notice} The session lasted ${formatDuration(seconds)}. Your conversation is saved.`
          : `${notice} Your conversation is saved.`,
      );
    } else {
      this.showNotice(
        seconds != null
          ? `Session ended after ${formatDuration(seconds)}. Your conversation is saved.`
          : "Session ended. Your conversation is saved.",
      );
    }
    if (this.session) this.linkRecap(this.session.session_id);
    this.buttons.start.disabled = false;
    this.buttons.start.textContent = "Start a new session";
    this.transcript = new Transcript(this.transcript.list);
    this.handledCalls.clear();
    this.greeted = false;
    this.resumes = 0;
  }

  // The server ended the session at its time limit and hangs up the call: no resume.
  timeUp(message) {
    if (this.timeIsUp) return;
    this.timeIsUp = true;
    this.end("time_limit", { notice: message || "Time is up for this session." });
  }

  // The session was continued in another window, which now has the call: stop here without
  // ending it. What the outbox still holds is delivered first.
  movedAway(message) {
    const socket = this.stopHere();
    if (socket) socket.drained().then(() => socket.stop());
    this.showNotice(message || "This session went on in another window.");
    this.buttons.start.disabled = false;
    this.buttons.start.textContent = "Start a new session";
  }

  onPageHide() {
    if (this.client) this.client.close();
    // Tell the server the session is over (the outbox delivers it on the next visit if need be),
    // so it stops counting minutes and hangs up the call.
    const open = ["connecting", "live", "reconnecting"].includes(this.root.dataset.state);
    if (this.socket && (open || this.retrySession)) {
      this.startSocket();
      this.socket.end("page_closed");
    }
  }

  fail(err) {
    this.stopCountdown();
    if (this.socket && ["live", "reconnecting"].includes(this.root.dataset.state)) {
      this.socket.end("error");
    } else if (this.retrySession && err instanceof RealtimeError && FINAL_CODES.has(err.code)) {
      // The session cannot be tried again (its time is up, say): the next start is a new one.
      this.retrySession = false;
      if (this.socket) this.socket.stop();
      this.socket = null;
    } else if (err instanceof RealtimeError && err.code === "session_live" && err.sessionId) {
      // The learner has a session open elsewhere (another window, or one that crashed):
      // offer to carry it on here; its other window is told to stop.
      this.continueId = err.sessionId;
      this.buttons.start.textContent = "Continue it here";
    } else if (this.retrySession) {
      // The first connect failed. The session stays open for "Try again"; the socket starts
      // now so the server hears of any call that was made, and can hang it up.
      this.startSocket();
      this.buttons.start.textContent = "Try again";
    }
    const message = err instanceof RealtimeError || (err && err.userMessage) ? err.message : "Something went wrong. Please try again.";
    if (!(err instanceof RealtimeError)) console.warn(err);
    if (this.client) this.client.close();
    this.client = null;
    this.setControls(false);
    this.setState("error");
    this.showNotice(message, true);
    this.buttons.start.disabled = false;
  }

  onConnectionState(client, state) {
    if (client !== this.client || this.timeIsUp) return;
    if (state === "connected") {
      clearTimeout(this.resumeTimer);
      return;
    }
    if (state === "disconnected") {
      clearTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => this.resume(), RESUME_GRACE_MS);
    } else if (state === "failed" || state === "closed") {
      // A moment's wait: when the server hung up at the time limit, its word is on the way.
      clearTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => this.resume(), RESUME_AFTER_CLOSE_MS);
    }
  }

  // The call dropped (or its key expired): get a fresh key for the same tutor session and
  // reconnect; the server gives the tutor a recap of the saved turns. The transcript goes on.
  async resume() {
    if (!this.client || this.timeIsUp || this.root.dataset.state === "ended") return;
    if (this.resumes >= MAX_RESUMES) {
      this.fail(new RealtimeError("The voice connection was lost and could not be restored."));
      return;
    }
    this.resumes += 1;
    this.client.close();
    this.setState("reconnecting");
    this.setControls(false);
    try {
      const session = await this.keyFor(this.session.session_id);
      if (this.timeIsUp || this.root.dataset.state !== "reconnecting") return;
      this.session = session;
      await this.connect();
    } catch (err) {
      if (this.timeIsUp || this.root.dataset.state !== "reconnecting") return;
      if (err instanceof RealtimeError && FINAL_CODES.has(err.code)) {
        this.timeUp(err.message);
      } else if (err instanceof RealtimeError && err.status >= 400 && err.status < 500 && err.status !== 401) {
        this.fail(err);
      } else {
        // A network blip or an expired key: try again with a fresh key.
        this.resumeTimer = setTimeout(() => this.resume(), RESUME_RETRY_MS);
      }
    }
  }

  // ---- server calls -------------------------------------------------------

  async mint(body) {
    let response;
    try {
      response = await fetch(this.tokenUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrfToken },
        body: JSON.stringify(body),
      });
    } catch (_) {
      throw new RealtimeError("Could not reach Parlance. Check your connection and try again.");
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) { /* not JSON */ }
    if (!response.ok || !payload || !payload.client_secret) {
      const message = payload && payload.error && payload.error.message;
      const code = (payload && payload.error && payload.error.code) || "";
      const sessionId = (payload && payload.error && payload.error.session_id) || null;
      throw new RealtimeError(message || `Could not start a session (HTTP ${response.status}).`, { status: response.status, code, sessionId });
    }
    this.keyUnused = true;
    const lifeMs = (Number(payload.expires_in) || 0) * 1000;
    this.keyUsableUntil = Date.now() + lifeMs - KEY_MARGIN_MS;
    return payload;
  }

  async openMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.showNotice("This browser gives no microphone access here. You can still type to the tutor.");
      return null;
    }
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    } catch (err) {
      const name = err && err.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        this.showNotice("Microphone access was denied. Allow it in your browser's site settings to speak; you can still type.");
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        this.showNotice("No microphone was found. Plug one in to speak; you can still type.");
      } else {
        this.showNotice("The microphone could not be opened. You can still type to the tutor.");
      }
      return null;
    }
  }

  startMeter(stream) {
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    this.audioContext = new AudioCtx();
    const analyser = this.audioContext.createAnalyser();
    analyser.fftSize = 512;
    this.audioContext.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const draw = () => {
      if (!this.audioContext) return;
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = Math.sqrt(sum / samples.length);
      const level = this.muted ? 0 : Math.min(1, rms * 4);
      this.meter.style.width = `${Math.round(level * 100)}%`;
      this.meterFrame = requestAnimationFrame(draw);
    };
    draw();
  }

  stopMicrophone() {
    if (this.meterFrame) cancelAnimationFrame(this.meterFrame);
    if (this.audioContext) this.audioContext.close();
    this.audioContext = null;
    this.meter.style.width = "0";
    if (this.mic) for (const track of this.mic.getTracks()) track.stop();
    this.mic = null;
  }

  // ---- realtime events ---------------------------------------------------

  onServerEvent(event) {
    const t = this.transcript;
    switch (event.type) {
      case "session.updated":
        this.onLive();
        break;
      case "conversation.item.added":
      case "conversation.item.created":
      case "conversation.item.done":
        this.onItem(event.item, event.type === "conversation.item.done");
        break;
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta": {
        const entry = t.ensure(event.item_id, { role: "assistant", persona: this.persona });
        t.append(entry, event.delta || "");
        this.guardrailCheck(entry);
        break;
      }
      case "response.output_audio_transcript.done":
        this.complete(t.ensure(event.item_id, { role: "assistant", persona: this.persona }), event.transcript || "");
        break;
      case "response.output_text.done":
        this.complete(t.ensure(event.item_id, { role: "assistant", persona: this.persona }), event.text || "");
        break;
      case "conversation.item.input_audio_transcription.delta": {
        const entry = t.ensure(event.item_id, { role: "user" });
        if (!entry.complete) t.append(entry, event.delta || "");
        break;
      }
      case "conversation.item.input_audio_transcription.completed":
        this.complete(t.ensure(event.item_id, { role: "user" }), (event.transcript || "").trim() || "[inaudible]");
        break;
      case "conversation.item.input_audio_transcription.failed":
        this.complete(t.ensure(event.item_id, { role: "user" }), "[not transcribed]");
        break;
      case "response.output_item.done":
        if (event.item && event.item.type === "function_call") this.onFunctionCall(event.item);
        break;
      case "response.created":
        this.responseActive = true;
        break;
      case "response.done": {
        this.relayUsage(event.response);
        this.responseActive = false;
        if (this.responseWanted) {
          this.responseWanted = false;
          this.requestResponse();
        }
        const response = event.response || {};
        if (response.status === "failed") {
          const detail = response.status_details && response.status_details.error;
          this.showNotice(`The tutor could not answer: ${(detail && detail.message) || "unknown error"}.`, true);
        }
        break;
      }
      case "error":
        this.showNotice(`The voice service reported: ${(event.error && event.error.message) || "an error"}.`, true);
        break;
      default:
        break;
    }
  }

  onLive() {
    if (this.root.dataset.state === "live") return;
    this.resumes = 0;
    this.setState("live");
    // The meter and the socket start with the conversation, so they do not compete with connecting.
    if (this.mic && !this.audioContext) this.startMeter(this.mic);
    this.startSocket();
    this.setControls(true);
    if (!this.greeted) {
      this.greeted = true;
      this.requestResponse();
    }
  }

  onItem(item, done) {
    if (!item || !item.id) return;
    const t = this.transcript;
    if (item.type === "message") {
      const entry = t.ensure(item.id, { role: item.role === "user" ? "user" : "assistant", persona: this.persona });
      const text = messageText(item);
      if (item.role === "user") {
        const typed = (item.content || []).some((part) => part.type === "input_text");
        if (typed) this.complete(entry, text);
      } else if (done && text) {
        this.complete(entry, text);
      }
    } else if (item.type === "function_call") {
      t.ensure(item.id, { role: "assistant", kind: "function_call" });
      if (done && item.status !== "in_progress") this.onFunctionCall(item);
    } else if (item.type === "function_call_output") {
      const entry = t.ensure(item.id, { role: "tool", kind: "function_call_output" });
      this.complete(entry, item.output || "", { call_id: item.call_id, output: item.output || "" });
    }
  }

  async onFunctionCall(item) {
    const entry = this.transcript.ensure(item.id, { role: "assistant", kind: "function_call" });
    this.complete(entry, `${item.name}(${item.arguments || ""})`, {
      call_id: item.call_id,
      name: item.name,
      arguments: item.arguments || "",
    });
    if (this.handledCalls.has(item.call_id)) return;
    this.handledCalls.add(item.call_id);
    const output = await this.socket.runTool({ callId: item.call_id, name: item.name, args: item.arguments || "" });
    if (!this.client) return;
    this.client.send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: item.call_id, output: this.takeHandoff(output) },
    });
    this.requestResponse();
  }

  // A turn is complete: show its final text and save it (again, if it changed).
  complete(entry, text, raw = {}) {
    this.transcript.set(entry, text);
    entry.complete = true;
    entry.li.classList.remove("pending");
    if (entry.savedText === text || !this.socket) return;
    entry.savedText = text;
    entry.li.classList.add("unsaved");
    if (entry.kind === "message" && entry.role === "assistant") raw = { ...raw, persona: entry.persona };
    this.socket.saveItem({ id: entry.id, role: entry.role, kind: entry.kind, text, order: entry.order, raw });
  }

  sendTyped() {
    const text = this.input.value.trim();
    if (!text || !this.client) return;
    this.client.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    });
    this.requestResponse();
    this.input.value = "";
  }

  // One response at a time: the API refuses `response.create` while one is running,
  // so a request made meanwhile waits for `response.done`.
  requestResponse() {
    if (!this.client) return;
    if (this.responseActive) {
      this.responseWanted = true;
      return;
    }
    this.responseActive = true;
    this.client.send({ type: "response.create" });
  }

  // ---- oral quiz and guardrail -------------------------------------------------

  async startQuiz() {
    if (!this.socket || !this.client) return;
    this.buttons.quiz.disabled = true;
    const output = await this.socket.runTool({ callId: `quiz_${Date.now()}`, name: "start_oral_quiz", args: "{}" });
    const parsed = parseJSON(output);
    if (!parsed || parsed.error) {
      this.showNotice(`The quiz could not start: ${(parsed && parsed.error) || "unknown error"}.`, true);
      this.buttons.quiz.disabled = false;
      return;
    }
    this.takeHandoff(output);
    this.requestResponse();
  }

  // A tool output may hand the conversation to another persona: apply its session
  // config with `session.update`, and give the model the output without it.
  takeHandoff(output) {
    const parsed = parseJSON(output);
    if (!parsed || !parsed.handoff || !parsed.handoff.session) return output;
    const { handoff, ...rest } = parsed;
    if (this.client) this.client.send({ type: "session.update", session: handoff.session });
    this.setPersona(handoff.persona);
    if (parsed.quiz_finished) {
      this.showNotice(`Oral quiz finished: ${parsed.score}/${parsed.max_score}. Your grade is saved.`);
    }
    return JSON.stringify({ ...rest, handoff_to: handoff.persona });
  }

  setPersona(persona) {
    this.persona = PERSONAS[persona] ? persona : "tutor";
    this.root.dataset.persona = this.persona;
    this.personaBadge.textContent = PERSONAS[this.persona];
    this.personaBadge.hidden = false;
    if (this.buttons.quiz) this.buttons.quiz.disabled = this.persona !== "tutor" || !this.client;
  }

  guardrailCheck(entry) {
    if (!this.socket || entry.flagged) return;
    const grown = entry.text.length - entry.checked;
    if (grown >= CHECK_EVERY_CHARS || (grown > 0 && /[.!?…]\s*$/.test(entry.text))) {
      entry.checked = entry.text.length;
      this.socket.check(entry.id, entry.text);
    }
  }

  // The safety filter stopped a reply: cut it off, hide it, and say so.
  onGuardrail(itemId, message) {
    const entry = this.transcript.entries.get(itemId);
    if (!entry || entry.flagged) return;
    entry.flagged = true;
    if (this.client && this.responseActive) this.client.interrupt();
    entry.li.classList.add("flagged");
    entry.textEl.textContent = "(withheld by the safety filter)";
    this.showNotice(`${message || "The tutor's reply was stopped by the safety filter."} Staff will review it.`, true);
  }

  // What each response cost, for the server's usage ledger (once per response id).
  relayUsage(response) {
    if (!this.socket || !response || typeof response.id !== "string" || !response.usage) return;
    const { input_tokens, output_tokens, total_tokens, input_token_details, output_token_details } = response.usage;
    this.socket.saveUsage(response.id, { input_tokens, output_tokens, total_tokens, input_token_details, output_token_details });
  }

  // ---- time limit ------------------------------------------------------------

  startCountdown(secondsLeft) {
    this.stopCountdown();
    if (!this.timeLeft || typeof secondsLeft !== "number") return;
    const deadline = Date.now() + secondsLeft * 1000;
    const render = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      this.timeLeft.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left`;
      this.timeLeft.classList.toggle("low", left <= 60);
    };
    render();
    this.timeLeft.hidden = false;
    this.countdown = setInterval(render, 1000);
  }

  stopCountdown() {
    clearInterval(this.countdown);
    this.countdown = null;
    if (this.timeLeft) this.timeLeft.hidden = true;
  }

  toggleMute() {
    this.muted = !this.muted;
    if (this.client) this.client.setMuted(this.muted);
    this.buttons.mute.setAttribute("aria-pressed", String(this.muted));
    this.buttons.mute.textContent = this.muted ? "Unmute" : "Mute";
  }

  // ---- socket --------------------------------------------------------------

  wireSocket(socket) {
    socket.addEventListener("call", (event) => this.startCountdown(event.detail.seconds_left));
    socket.addEventListener("timeup", (event) => this.timeUp(event.detail.message));
    socket.addEventListener("message", (event) => {
      if (event.detail.type === "guardrail" && event.detail.tripped) this.onGuardrail(event.detail.item_id, event.detail.message);
      if (event.detail.type === "moved" && socket === this.socket) this.movedAway(event.detail.message);
    });
    socket.addEventListener("saved", (event) => {
      if (event.detail.flagged) this.onGuardrail(event.detail.itemId, event.detail.message);
      const entry = this.transcript.entries.get(event.detail.itemId);
      if (entry && !entry.li.dataset.saved) {
        entry.li.dataset.saved = "true";
        this.saved += 1;
        this.savedCount.textContent = String(this.saved);
      }
      if (entry) entry.li.classList.remove("unsaved");
    });
    socket.addEventListener("outbox", (event) => {
      this.pending.hidden = event.detail.size === 0;
      this.pendingCount.textContent = String(event.detail.size);
    });
    socket.addEventListener("state", (event) => {
      this.root.dataset.socket = event.detail.state;
      if (event.detail.state === "refused") this.fail(new RealtimeError("This session belongs to someone else."));
    });
    socket.addEventListener("servererror", (event) => {
      console.warn("Conversation socket error", event.detail);
    });
  }

  // Outboxes a previous page left behind: deliver them before anything else.
  flushLeftovers() {
    for (const { sessionId, socketPath } of Outbox.leftovers()) {
      const socket = new ConversationSocket({ sessionId, socketPath }).start();
      socket.drained().then(() => socket.stop());
    }
  }

  // ---- view ------------------------------------------------------------------

  setState(state) {
    this.root.dataset.state = state;
    this.statusText.textContent = state;
  }

  setControls(live) {
    this.buttons.mute.disabled = !live;
    this.buttons.interrupt.disabled = !live;
    this.buttons.quiz.disabled = !live || this.persona !== "tutor";
    this.buttons.end.disabled = !live && !this.socket;
    this.input.disabled = !live;
    this.sendButton.disabled = !live;
  }

  // The recap of the session just ended: words practised and missed, what to do next.
  linkRecap(sessionId) {
    const link = document.createElement("a");
    link.href = this.root.dataset.sessionUrl.replace(/0\/$/, `${sessionId}/`);
    link.textContent = "See the recap";
    link.dataset.recapLink = "";
    this.notice.append(" ", link);
  }

  showNotice(message, isError = false) {
    this.notice.textContent = message;
    this.notice.classList.toggle("error", isError);
    this.notice.hidden = false;
  }

  hideNotice() {
    this.notice.hidden = true;
  }
}

function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch (_) {
    return null;
  }
}

function messageText(item) {
  return (item.content || [])
    .map((part) => part.text || part.transcript || "")
    .join(" ")
    .trim();
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(null), ms))]);
}

function formatDuration(seconds) {
  const total = Math.round(seconds);
  const minutes = Math.floor(total / 60);
  const rest = total % 60;
  return minutes ? `${minutes} min ${rest} s` : `${rest} s`;
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("tutor");
  if (root) new TutorPage(root);
});
