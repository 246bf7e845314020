// Today's focus words beside the conversation: each ticked once practised, its meaning on
// hover, focus or tap. The page lists the plan's words; a session's key brings its own list.

export class FocusWords {
  constructor(list, { lang = "", summary = null } = {}) {
    this.list = list;
    this.lang = lang;
    this.summary = summary;
    this.practised = new Set();
    if (!list) return;
    list.addEventListener("click", (event) => {
      const button = event.target.closest(".focus-term");
      if (button) this.toggle(button);
    });
  }

  get terms() {
    return this.list ? [...this.list.querySelectorAll("[data-focus-term]")].map((li) => li.dataset.focusTerm) : [];
  }

  toggle(button) {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.closest("li").classList.toggle("open", open);
  }

  // The session's own list, `[{term, meaning}]` (ticks already earned stay).
  show(words) {
    if (!this.list || !Array.isArray(words) || !words.length) return;
    this.list.textContent = "";
    words.forEach(({ term, meaning }, index) => this.list.append(this.item(term, meaning, index + 1)));
    for (const term of [...this.practised]) this.tick(term);
    this.count();
  }

  item(term, meaning, index) {
    const li = document.createElement("li");
    li.className = "focus-word";
    li.dataset.focusTerm = term;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "focus-term";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", `focus-meaning-${index}`);
    const tick = document.createElement("span");
    tick.className = "tick";
    tick.setAttribute("aria-hidden", "true");
    tick.textContent = "✓";
    const word = document.createElement("span");
    if (this.lang) word.lang = this.lang;
    word.textContent = term;
    const said = document.createElement("span");
    said.className = "visually-hidden";
    said.dataset.tickText = "";
    button.append(tick, word, said);
    const shown = document.createElement("span");
    shown.className = "focus-meaning";
    shown.id = `focus-meaning-${index}`;
    shown.textContent = meaning || "(no meaning given)";
    li.append(button, shown);
    return li;
  }

  // A word was practised: tick it. The tools answer with the word exactly as the learner's
  // list has it, which is how the focus words are written too.
  tick(term) {
    if (!this.list || !term) return false;
    this.practised.add(term);
    const wanted = term.trim().toLowerCase();
    const li = [...this.list.querySelectorAll("[data-focus-term]")].find(
      (el) => el.dataset.focusTerm === term || el.dataset.focusTerm.trim().toLowerCase() === wanted,
    );
    if (!li) return false;
    li.classList.add("practised");
    li.dataset.practised = "true";
    const said = li.querySelector("[data-tick-text]");
    if (said) said.textContent = " (practised)";
    this.count();
    return true;
  }

  count() {
    if (!this.summary) return;
    const total = this.list.querySelectorAll("[data-focus-term]").length;
    this.summary.hidden = total === 0;
    this.summary.querySelector("[data-focus-practised]").textContent = String(this.list.querySelectorAll("[data-focus-term].practised").length);
    this.summary.querySelector("[data-focus-total]").textContent = String(total);
  }
}
