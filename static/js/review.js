// The review page's keyboard shortcuts: Space or Enter shows the answer,
// 1, 2, 3 and 4 grade the card (Again, Hard, Good, Easy) once the answer is shown.
// "Hear it" speaks the word with the browser's own speech synthesis (no server),
// shown only where the browser has it. The page works the same without this script.

function speakButton(card) {
  const button = card.querySelector("[data-speak]");
  if (!button || !("speechSynthesis" in window) || typeof SpeechSynthesisUtterance !== "function") return;
  button.hidden = false;
  button.addEventListener("click", () => {
    const utterance = new SpeechSynthesisUtterance(button.dataset.speak);
    utterance.lang = button.dataset.lang;
    const voice = window.speechSynthesis.getVoices().find((v) => v.lang.toLowerCase().startsWith(utterance.lang.toLowerCase()));
    if (voice) utterance.voice = voice;
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(utterance);
  });
}

function typingInField(event) {
  const target = event.target;
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function start() {
  const card = document.getElementById("flashcard");
  if (!card) return;
  const answer = card.querySelector("[data-answer]");
  const buttons = new Map([...card.querySelectorAll("button[data-key]")].map((button) => [button.dataset.key, button]));
  let sent = false;
  speakButton(card);

  answer.addEventListener("toggle", () => {
    if (answer.open) buttons.get("3")?.focus({ preventScroll: true });
  });
  card.querySelector("form")?.addEventListener("submit", () => {
    sent = true;
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || typingInField(event)) return;
    if (!answer.open && (event.key === " " || event.key === "Enter")) {
      event.preventDefault();
      answer.open = true;
      return;
    }
    const button = buttons.get(event.key);
    if (answer.open && button && !sent) {
      event.preventDefault();
      sent = true;
      button.click();
    }
  });
  // The shortcuts work from now on (tests wait for this before pressing keys).
  card.dataset.keys = "ready";
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
