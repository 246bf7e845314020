// The review page's keyboard shortcuts: Space or Enter shows the answer,
// 1, 2 and 3 grade the card (Again, Hard, Good) once the answer is shown.
// The page works the same without this script.

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
