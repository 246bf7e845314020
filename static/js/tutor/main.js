// The tutor page, wired up: read the page's data-* attributes, build the parts, connect them.
// Mint a key, connect over WebRTC, show the live transcript, save completed items through the
// conversation socket, run server tools. No logic of its own lives here.

import { PageState } from "./page-state.js";
import { View } from "./view.js";
import { Transcript } from "./transcript.js";
import { Tools } from "./tools.js";
import { Microphone } from "./microphone.js";
import { Countdown } from "./countdown.js";
import { Keys } from "./keys.js";
import { Conversation } from "./conversation.js";
import { Session } from "./session.js";
import { FocusWords } from "./focus-words.js";
import { ConversationSocket, Outbox } from "../conversation-socket.js";

function main(root) {
  const { tokenUrl, csrfToken, learnerId, targetLang } = root.dataset;
  const view = new View(root);
  let conversation = null;
  const state = new PageState({
    onChange: ({ to, shown }) => {
      view.showState({ state: to, shown });
      if (conversation) conversation.showTurn();
    },
  });
  const session = new Session({
    learnerId,
    state,
    view,
    keys: new Keys({ tokenUrl, csrfToken }),
    countdown: new Countdown(root.querySelector("[data-time-left]")),
    audio: root.querySelector("[data-remote-audio]"),
  });
  const focusWords = new FocusWords(root.querySelector("[data-focus-words]"), {
    lang: targetLang,
    summary: root.querySelector("[data-focus-summary]"),
  });
  const transcript = new Transcript(root.querySelector("[data-transcript]"), {
    save: (item) => session.saveItem(item),
    announcer: root.querySelector("[data-announcer]"),
    lang: targetLang,
    onChip: (chip) => focusWords.tick(chip.word),
  });
  conversation = new Conversation({ session, transcript, view });
  const tools = new Tools({ session: conversation, transcript, view });
  const microphone = new Microphone({
    meter: root.querySelector("[data-meter]"),
    notify: (message) => view.showNotice(message),
    isMuted: () => session.muted,
  });
  conversation.tools = tools;
  Object.assign(session, { transcript, tools, conversation, microphone, focusWords });

  view.buttons.start.addEventListener("click", () => session.start());
  view.buttons.mute.addEventListener("click", () => conversation.toggleMute());
  view.buttons.interrupt.addEventListener("click", () => conversation.interrupt());
  view.buttons.end.addEventListener("click", () => session.end("user"));
  view.buttons.quiz.addEventListener("click", () => tools.startQuiz());
  view.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    conversation.sendTyped();
  });
  window.addEventListener("pagehide", () => session.onPageHide());
  view.showState({ state: state.state, shown: state.shown });
  flushLeftovers(learnerId);
}

// This learner's outboxes a previous page left behind: deliver them before anything else.
function flushLeftovers(learnerId) {
  for (const { sessionId, socketPath } of Outbox.leftovers({ learnerId })) {
    const socket = new ConversationSocket({ learnerId, sessionId, socketPath }).start();
    socket.drained().then(() => socket.stop());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("tutor");
  if (root) main(root);
});
