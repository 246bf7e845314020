// The page's controls and words: buttons, status text, notices, counts, the persona badge.

import { PERSONAS } from "./transcript.js";
import { TURN_TEXT } from "./turn-taking.js";

export class View {
  constructor(root) {
    this.root = root;
    this.statusText = root.querySelector("[data-status]");
    this.notice = root.querySelector("[data-notice]");
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
    this.turnIndicator = root.querySelector("[data-turn-indicator]");
    this.turnText = root.querySelector("[data-turn-text]");
    this.startLabel = this.buttons.start.innerHTML; // the template's own markup, restored as it was
  }

  // Who has the floor (see turn-taking.js); null: no live call, no indicator.
  showTurn(turn) {
    if (turn) this.root.dataset.turn = turn;
    else delete this.root.dataset.turn;
    if (!this.turnIndicator) return;
    // The live region stays in place (empty when there is no call), so each change is read.
    this.turnIndicator.classList.toggle("on", Boolean(turn));
    const text = turn ? TURN_TEXT[turn] : "";
    if (this.turnText.textContent !== text) this.turnText.textContent = text;
  }

  setInterruptEnabled(enabled) {
    this.buttons.interrupt.disabled = !enabled;
  }

  // `shown` is what the tests and the stylesheet know (see page-state.js); `state` the exact one.
  showState({ state, shown }) {
    this.root.dataset.state = shown;
    this.root.dataset.phase = state;
    this.statusText.textContent = shown;
  }

  setControls(live, { hasSocket, persona, canInterrupt = false }) {
    this.buttons.mute.disabled = !live;
    this.buttons.interrupt.disabled = !live || !canInterrupt;
    this.buttons.quiz.disabled = !live || persona !== "tutor";
    this.buttons.end.disabled = !live && !hasSocket;
    this.input.disabled = !live;
    this.sendButton.disabled = !live;
  }

  // What follows "|" in `label` is left out on a phone ("Start| a new session" reads "Start").
  enableStart(label = null) {
    this.buttons.start.disabled = false;
    if (!label) return;
    const [always, wide = ""] = label.split("|");
    const rest = document.createElement("span");
    rest.className = "wide-only";
    rest.textContent = wide;
    this.buttons.start.replaceChildren(always, ...(wide ? [rest] : []));
  }

  // While a session starts or runs the button is off and says what it does, not what it
  // offered ("Continue it here", "Try again").
  disableStart() {
    this.buttons.start.disabled = true;
    this.buttons.start.innerHTML = this.startLabel;
  }

  disableEnd() {
    this.buttons.end.disabled = true;
  }

  setQuizEnabled(enabled) {
    if (this.buttons.quiz) this.buttons.quiz.disabled = !enabled;
  }

  showPersona(persona) {
    this.root.dataset.persona = persona;
    this.personaBadge.textContent = PERSONAS[persona];
    this.personaBadge.hidden = false;
  }

  showMuted(muted) {
    this.buttons.mute.setAttribute("aria-pressed", String(muted));
    this.buttons.mute.textContent = muted ? "Unmute" : "Mute";
  }

  showSaved(count) {
    this.savedCount.textContent = String(count);
  }

  showPending(size) {
    this.pending.hidden = size === 0;
    this.pendingCount.textContent = String(size);
  }

  showSocketState(state) {
    this.root.dataset.socket = state;
  }

  // The typed message, taken out of the box (empty: nothing to send).
  takeTyped() {
    const text = this.input.value.trim();
    return text;
  }

  clearTyped() {
    this.input.value = "";
  }

  showNotice(message, isError = false) {
    this.notice.textContent = message;
    this.notice.classList.toggle("error", isError);
    this.notice.hidden = false;
  }

  hideNotice() {
    this.notice.hidden = true;
  }

  // The session just ended: how long it lasted, and that it is saved.
  showEnded(notice, seconds) {
    const lasted = seconds != null ? formatDuration(seconds) : null;
    if (notice) {
      this.showNotice(lasted ? `${notice} The session lasted ${lasted}. Your conversation is saved.` : `${notice} Your conversation is saved.`);
    } else {
      this.showNotice(lasted ? `Session ended after ${lasted}. Your conversation is saved.` : "Session ended. Your conversation is saved.");
    }
  }

  // The recap of the session just ended: words practised and missed, what to do next.
  linkRecap(sessionId) {
    const link = document.createElement("a");
    link.href = this.root.dataset.sessionUrl.replace(/0\/$/, `${sessionId}/`);
    link.textContent = "See the recap";
    link.dataset.recapLink = "";
    this.notice.append(" ", link);
  }
}

export function formatDuration(seconds) {
  const total = Math.round(seconds);
  const minutes = Math.floor(total / 60);
  const rest = total % 60;
  return minutes ? `${minutes} min ${rest} s` : `${rest} s`;
}
