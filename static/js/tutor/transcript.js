// The transcript list: one <li> per conversation item, in the order first seen, marked
// pending until complete and unsaved until the server acknowledges it.

export const PERSONAS = Object.freeze({ tutor: "Tutor", examiner: "Examiner" });
const WITHHELD = "(withheld by the safety filter)";

export class Transcript {
  // `save(item)` hands a completed item to the socket; it returns false when there is none.
  constructor(list, { save }) {
    this.list = list;
    this.save = save;
    this.saved = 0;
    this.reset();
  }

  // A new session: a fresh numbering. The turns shown so far stay on the page.
  reset() {
    this.entries = new Map();
    this.nextOrder = 0;
  }

  get(id) {
    return this.entries.get(id);
  }

  ensure({ id, role, kind = "message", persona = "tutor" }) {
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

  // A turn is complete: show its final text and save it (again, if it changed).
  complete(entry, text, raw = {}) {
    this.set(entry, text);
    entry.complete = true;
    entry.li.classList.remove("pending");
    if (entry.savedText === text) return;
    if (entry.kind === "message" && entry.role === "assistant") raw = { ...raw, persona: entry.persona };
    const item = { id: entry.id, role: entry.role, kind: entry.kind, text, order: entry.order, raw };
    if (!this.save(item)) return;
    entry.savedText = text;
    entry.li.classList.add("unsaved");
  }

  // The server acknowledged the item. True the first time (the saved count goes up).
  markSaved(id) {
    const entry = this.entries.get(id);
    if (!entry) return false;
    entry.li.classList.remove("unsaved");
    if (entry.li.dataset.saved) return false;
    entry.li.dataset.saved = "true";
    this.saved += 1;
    return true;
  }

  // The safety filter stopped this reply: hide it. False if it was already (or is unknown).
  withhold(id) {
    const entry = this.entries.get(id);
    if (!entry || entry.flagged) return false;
    entry.flagged = true;
    entry.li.classList.add("flagged");
    entry.textEl.textContent = WITHHELD;
    return true;
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
