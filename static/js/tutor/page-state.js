// The tutor page's state machine, in place of a dozen booleans. Pure: no DOM, no network.
//
//   idle ──start──> connecting ──session.updated──> live <──> reconnecting
//                       │                            │            │
//                       └──────> failed / ended / time_up / moved <┘
//   failed, ended, time_up, moved ──start──> connecting
//
// An invalid transition throws: the page never drifts into a state nobody designed.

export const STATES = Object.freeze({
  IDLE: "idle",
  CONNECTING: "connecting",
  LIVE: "live",
  RECONNECTING: "reconnecting",
  ENDED: "ended", // the learner (or the page) ended the session
  TIME_UP: "time_up", // the server ended it at its time limit
  MOVED: "moved", // it went on in another window
  FAILED: "failed", // something went wrong; "start" tries again or starts anew
});

const S = STATES;
const STOPPED = [S.FAILED, S.ENDED, S.TIME_UP, S.MOVED];

export const TRANSITIONS = Object.freeze({
  [S.IDLE]: [S.CONNECTING],
  [S.CONNECTING]: [S.LIVE, S.RECONNECTING, ...STOPPED],
  [S.LIVE]: [S.RECONNECTING, ...STOPPED],
  // Each further resume attempt re-enters `reconnecting`.
  [S.RECONNECTING]: [S.RECONNECTING, S.LIVE, ...STOPPED],
  // A failed page may still hold its session's socket: the learner can end it, or the server
  // can say time is up or that it moved; a later failure replaces the message.
  [S.FAILED]: [S.CONNECTING, ...STOPPED],
  [S.ENDED]: [S.CONNECTING],
  [S.TIME_UP]: [S.CONNECTING],
  [S.MOVED]: [S.CONNECTING],
});

// What `#tutor[data-state]` and the status text show (the browser tests and the stylesheet
// know these): the three ways a session stops all read "ended"; a failure reads "error".
const SHOWN = Object.freeze({ [S.FAILED]: "error", [S.TIME_UP]: "ended", [S.MOVED]: "ended" });

// How many times in a row a dropped call is resumed before the page gives up.
export const MAX_RESUMES = 3;

export class InvalidTransition extends Error {
  constructor(from, to) {
    super(`The tutor page cannot go from "${from}" to "${to}".`);
    this.name = "InvalidTransition";
    this.from = from;
    this.to = to;
  }
}

export class PageState {
  constructor({ onChange = null } = {}) {
    this.state = S.IDLE;
    this.onChange = onChange;
    // What the next "start" does: begin a new session, retry this one's first connect
    // ("Try again"), or continue the learner's session open elsewhere ("Continue it here").
    this.next = { kind: "new" };
    // The session's first connect has not succeeded yet (so "Try again" can reuse it).
    this.firstConnect = false;
    // This session has been live (so the tutor has greeted the learner).
    this.wasLive = false;
    // Resume attempts since the call was last live.
    this.resumes = 0;
  }

  get shown() {
    return SHOWN[this.state] || this.state;
  }

  // Connecting, live or reconnecting: the page holds (or is making) a call.
  get isOpen() {
    return [S.CONNECTING, S.LIVE, S.RECONNECTING].includes(this.state);
  }

  // The session stopped on this page: the learner ended it, its time is up, or it moved.
  get isStopped() {
    return [S.ENDED, S.TIME_UP, S.MOVED].includes(this.state);
  }

  is(...states) {
    return states.includes(this.state);
  }

  can(to) {
    return (TRANSITIONS[this.state] || []).includes(to);
  }

  to(to) {
    if (!Object.values(S).includes(to) || !this.can(to)) throw new InvalidTransition(this.state, to);
    const from = this.state;
    this.state = to;
    if (to === S.LIVE) this.resumes = 0;
    if (this.onChange) this.onChange({ from, to, shown: this.shown });
    return from;
  }

  // ---- the steps that carry context with them ----------------------------------

  // "Start": returns what to start (see `next`), which is then forgotten.
  start() {
    this.to(S.CONNECTING);
    const next = this.next;
    this.next = { kind: "new" };
    if (next.kind !== "retry") this.newSession();
    return next;
  }

  newSession() {
    this.wasLive = false;
    this.resumes = 0;
    this.firstConnect = false;
  }

  // The session went live. True the first time for this session: the tutor greets then.
  live() {
    if (this.state === S.LIVE) return false;
    this.to(S.LIVE);
    const first = !this.wasLive;
    this.wasLive = true;
    return first;
  }

  // A resume attempt. False when the page has tried often enough and should give up.
  resume() {
    if (this.resumes >= MAX_RESUMES) return false;
    this.resumes += 1;
    this.to(S.RECONNECTING);
    return true;
  }

  // Stopped for good on this page: `how` is ENDED, TIME_UP or MOVED.
  stop(how) {
    if (![S.ENDED, S.TIME_UP, S.MOVED].includes(how)) throw new InvalidTransition(this.state, how);
    this.to(how);
    this.next = { kind: "new" };
    this.firstConnect = false;
  }

  // Failed; `next` says what "start" does now (see the constructor).
  fail(next = { kind: "new" }) {
    this.to(S.FAILED);
    this.next = next;
  }
}
