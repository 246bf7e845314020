// A tutor session's life on the page: mint a key, connect the call, go live, resume a dropped
// call, end, or stop because time is up or the session moved to another window. Every step
// goes through the state machine (page-state.js); Realtime events become actions (events.js).

import { RealtimeClient, RealtimeError } from "../realtime-client.js";
import { ConversationSocket } from "../conversation-socket.js";
import { CLOSE, MINT_FINAL_CODES, MINT_SESSION_LIVE, RECEIVE } from "../protocol.js";
import { STATES } from "./page-state.js";

const S = STATES;
const [RESUME_GRACE_MS, RESUME_RETRY_MS, RESUME_AFTER_CLOSE_MS, END_TIMEOUT_MS] = [3000, 1000, 1000, 8000];
// The conversation socket opens when the session is live, or after this long at the latest.
const SOCKET_DELAY_MS = 3000;

export class Session {
  // `transcript`, `tools`, `conversation`, `microphone` and `focusWords` are attached by main.js.
  constructor({ learnerId, state, view, keys, countdown, audio }) {
    Object.assign(this, { learnerId, state, view, keys, countdown, audio });
    this.client = null;
    this.socket = null;
    this.grant = null; // the minted key and its session: session_id, client_secret, calls_url, socket_url
    this.muted = false;
    this.resumeTimer = this.socketTimer = null;
  }

  // ---- starting --------------------------------------------------------------

  async start() {
    this.view.hideNotice();
    this.view.disableStart();
    const next = this.state.start();
    try {
      if (next.kind === "retry" && this.grant && this.socket) {
        // The first connect failed: try the same session again, with its key if still good.
        this.grant = await this.keys.keyFor(this.grant.session_id, this.grant);
        await this.microphone.ensure();
      } else {
        // A new session, or the learner's open one continued here (see `fail`).
        const body = next.kind === "continue" ? { session_id: next.sessionId } : {};
        this.grant = await this.microphone.openWith(() => this.keys.mint(body));
        this.focusWords.show(this.grant.focus_words);
        const { session_id: sessionId, socket_url: socketPath } = this.grant;
        this.socket = new ConversationSocket({ learnerId: this.learnerId, sessionId, socketPath });
        this.wire(this.socket);
      }
      this.state.firstConnect = true;
      await this.connect();
      this.state.firstConnect = false;
      // The socket opens once the session is live (or after a moment), so it does not compete
      // with setting the call up; its outbox holds the call id till then.
      this.socketTimer = setTimeout(() => this.startSocket(), SOCKET_DELAY_MS);
    } catch (err) {
      this.fail(err);
    }
  }

  startSocket() {
    clearTimeout(this.socketTimer);
    if (!this.socket || this.socket.started) return;
    this.socket.start();
  }

  async connect() {
    const client = new RealtimeClient({ audioElement: this.audio, ledger: this.conversation.ledger });
    this.client = client;
    this.conversation.reset();
    this.tools.setPersona("tutor");
    client.addEventListener("serverevent", (event) => this.onServerEvent(client, event.detail));
    client.addEventListener("connectionstate", (event) => this.onConnectionState(client, event.detail));
    client.addEventListener("channelclose", () => this.onConnectionState(client, "failed"));
    const socket = this.socket;
    const serverSetup = this.grant.call_setup === "server";
    try {
      await client.connect({
        callsUrl: this.grant.calls_url,
        clientSecret: this.grant.client_secret,
        server: serverSetup ? { sessionId: this.grant.session_id, csrfToken: this.keys.csrfToken, pageId: this.keys.pageId } : null,
        micStream: this.microphone.stream,
        onCall: (callId) => {
          this.keys.used();
          if (callId) socket.reportCall(callId);
        },
      });
    } catch (err) {
      // A refused key (expired, say) is no good for another try either; a mint the server
      // tried to make a call with is spent, whatever came of it.
      if (serverSetup || (err instanceof RealtimeError && err.status === 401)) this.keys.used();
      throw err;
    }
    client.setMuted(this.muted);
    // Ask for the session as configured by the server; `session.updated` means live.
    client.send({ type: "session.update", session: { type: "realtime" } });
  }

  onLive() {
    const first = this.state.live();
    // The meter and the socket start with the conversation, so they do not compete with connecting.
    this.microphone.startMeter();
    this.startSocket();
    this.setControls(true);
    if (first) this.conversation.requestResponse(); // the tutor greets the learner once per session
  }

  // ---- stopping --------------------------------------------------------------

  // Stop the call, the microphone and the controls; the page's socket, now detached from it.
  stopHere(how) {
    clearTimeout(this.resumeTimer);
    this.countdown.stop();
    this.setControls(false);
    if (this.client) this.client.close();
    this.client = null;
    this.microphone.stop();
    this.state.stop(how);
    const socket = this.socket;
    this.socket = null;
    this.view.disableEnd();
    return socket;
  }

  async end(reason, { notice = "", how = S.ENDED } = {}) {
    if (!this.state.can(how)) return;
    const socket = this.stopHere(how);
    if (!socket) return;
    // Whatever is not acknowledged stays in the outbox and is sent on the next visit.
    const ended = await withTimeout(socket.end(reason).then(() => socket.drained()).then(() => socket.lastEnded), END_TIMEOUT_MS);
    socket.stop();
    this.view.showEnded(notice, ended && ended.duration_seconds);
    this.finished();
  }

  // The recap link, a fresh transcript numbering, and "Start a new session".
  finished() {
    if (this.grant) this.view.linkRecap(this.grant.session_id);
    this.view.enableStart("Start| a new session");
    this.transcript.reset();
    this.tools.reset();
  }

  // The server ended the session at its time limit and hangs up the call: no resume.
  timeUp(message) {
    if (!this.state.can(S.TIME_UP)) return;
    this.end("time_limit", { notice: message || "Time is up for this session.", how: S.TIME_UP });
  }

  // The session was continued in another window, which now has the call: stop here without
  // ending it. What the outbox still holds is delivered first.
  movedAway(message) {
    if (!this.state.can(S.MOVED)) return;
    const socket = this.stopHere(S.MOVED);
    if (socket) socket.drained().then(() => socket.stop());
    this.view.showNotice(message || "This session went on in another window.");
    this.view.enableStart("Start| a new session");
  }

  // The server refused the socket for good (see protocol.js): nothing more can be saved.
  socketRefused(code) {
    if (code === CLOSE.SESSION_CLOSED) {
      if (!this.state.can(S.ENDED)) return;
      this.stopHere(S.ENDED);
      this.view.showNotice("This session has ended; start a new one.");
      this.finished();
      return;
    }
    this.socket = null;
    this.fail(new RealtimeError(code === CLOSE.NOT_SIGNED_IN ? "You are signed out. Sign in again to go on." : "This session belongs to someone else."));
  }

  onPageHide() {
    if (this.client) this.client.close();
    // Tell the server the session is over (the outbox delivers it on the next visit if need be),
    // so it stops counting minutes and hangs up the call.
    if (this.socket && (this.state.isOpen || this.state.firstConnect)) {
      this.startSocket();
      this.socket.end("page_closed");
    }
  }

  fail(err) {
    if (!this.state.can(S.FAILED)) {
      console.warn("Ignored after the session stopped:", err);
      return;
    }
    this.countdown.stop();
    let next = { kind: "new" };
    if (this.socket && this.state.is(S.LIVE, S.RECONNECTING)) {
      this.socket.end("error");
    } else if (this.state.firstConnect && err instanceof RealtimeError && MINT_FINAL_CODES.has(err.code)) {
      // The session cannot be tried again (its time is up, say): the next start is a new one.
      this.state.firstConnect = false;
      if (this.socket) this.socket.stop();
      this.socket = null;
    } else if (err instanceof RealtimeError && err.code === MINT_SESSION_LIVE && err.sessionId) {
      // The learner has a session open elsewhere (another window, or one that crashed):
      // offer to carry it on here; its other window is told to stop.
      next = { kind: "continue", sessionId: err.sessionId };
      this.view.enableStart("Continue| it here");
    } else if (this.state.firstConnect && this.socket) {
      // The first connect failed. The session stays open for "Try again"; the socket starts
      // now so the server hears of any call that was made, and can hang it up.
      this.startSocket();
      next = { kind: "retry" };
      this.view.enableStart("Try again");
    }
    const message = err instanceof RealtimeError || (err && err.userMessage) ? err.message : "Something went wrong. Please try again.";
    if (!(err instanceof RealtimeError)) console.warn(err);
    if (this.client) this.client.close();
    this.client = null;
    this.setControls(false);
    this.state.fail(next);
    this.view.showNotice(message, true);
    this.view.enableStart();
  }

  // ---- a dropped call --------------------------------------------------------

  onConnectionState(client, connection) {
    if (client !== this.client || !this.state.isOpen) return;
    clearTimeout(this.resumeTimer);
    if (connection === "disconnected") {
      this.resumeTimer = setTimeout(() => this.resume(), RESUME_GRACE_MS);
    } else if (connection === "failed" || connection === "closed") {
      // A moment's wait: when the server hung up at the time limit, its word is on the way.
      this.resumeTimer = setTimeout(() => this.resume(), RESUME_AFTER_CLOSE_MS);
    }
  }

  // The call dropped (or its key expired): get a fresh key for the same tutor session and
  // reconnect; the server gives the tutor a recap of the saved turns. The transcript goes on.
  async resume() {
    if (!this.client || !this.state.isOpen) return;
    if (!this.state.resume()) {
      this.fail(new RealtimeError("The voice connection was lost and could not be restored."));
      return;
    }
    this.client.close();
    this.setControls(false);
    try {
      const grant = await this.keys.keyFor(this.grant.session_id, this.grant);
      if (!this.state.is(S.RECONNECTING)) return;
      this.grant = grant;
      await this.connect();
    } catch (err) {
      if (!this.state.is(S.RECONNECTING)) return;
      if (err instanceof RealtimeError && MINT_FINAL_CODES.has(err.code)) {
        this.timeUp(err.message);
      } else if (err instanceof RealtimeError && err.status >= 400 && err.status < 500 && err.status !== 401) {
        this.fail(err);
      } else {
        // A network blip or an expired key: try again with a fresh key.
        this.resumeTimer = setTimeout(() => this.resume(), RESUME_RETRY_MS);
      }
    }
  }

  // Realtime events, typed messages and the guardrail: see conversation.js.
  onServerEvent(client, event) {
    if (client === this.client) this.conversation.onServerEvent(event);
  }

  saveItem(item) {
    if (!this.socket) return false;
    this.socket.saveItem(item);
    return true;
  }

  setControls(live) {
    this.view.setControls(live, { hasSocket: Boolean(this.socket), persona: this.tools.persona, canInterrupt: this.conversation.turns.canInterrupt });
    this.conversation.showTurn();
  }

  // ---- the socket --------------------------------------------------------------

  wire(socket) {
    const current = () => socket === this.socket;
    socket.addEventListener("call", (event) => current() && this.countdown.start(event.detail.seconds_left));
    socket.addEventListener("timeup", (event) => current() && this.timeUp(event.detail.message));
    socket.addEventListener("message", ({ detail }) => {
      if (detail.type === RECEIVE.GUARDRAIL && detail.tripped) this.conversation.onGuardrail(detail.item_id, detail.message);
      if (detail.type === RECEIVE.MOVED && current() && detail.page !== this.keys.pageId) this.movedAway(detail.message);
    });
    // Acknowledgements count even while a stopped session's socket delivers its last items.
    socket.addEventListener("saved", ({ detail }) => {
      if (detail.flagged) this.conversation.onGuardrail(detail.itemId, detail.message);
      if (this.transcript.markSaved(detail.itemId)) this.view.showSaved(this.transcript.saved);
    });
    socket.addEventListener("outbox", (event) => this.view.showPending(event.detail.size));
    socket.addEventListener("state", ({ detail }) => {
      this.view.showSocketState(detail.state);
      if (detail.state === "refused" && current()) this.socketRefused(detail.code);
    });
    socket.addEventListener("servererror", (event) => console.warn("Conversation socket error", event.detail));
  }
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(null), ms))]);
}
