// The transcript list: one <li> per conversation turn, in the order first seen, marked
// pending until complete and unsaved until the server acknowledges it. Tool activity is one
// small chip per call ("✓ casa practised"); the raw call and output sit behind its details
// toggle, never as turns. The live region reads each turn's final text, not its deltas.

import { toolChip } from "./activity.js";

export const PERSONAS = Object.freeze({ tutor: "Tutor", examiner: "Examiner" });
const WITHHELD = "(withheld by the safety filter)";

export class Transcript {
  // `save(item)` hands a completed item to the socket; it returns false when there is none.
  // `announcer`: the polite live region; `lang`: the target language's code (turns are in it);
  // `onChip(chip)`: a tool chip changed (the focus words tick the words practised).
  constructor(list, { save, announcer = null, lang = "", onChip = () => {} }) {
    Object.assign(this, { list, save, announcer, lang, onChip });
    this.saved = 0;
    this.reset();
  }

  // A new session: a fresh numbering. The turns shown so far stay on the page.
  reset() {
    this.entries = new Map();
    this.chips = new Map(); // call id -> chip
    this.nextOrder = 0;
  }

  get(id) {
    return this.entries.get(id);
  }

  ensure({ id, role, kind = "message", persona = "tutor", callId = "", name = "" }) {
    let entry = this.entries.get(id);
    if (entry) return entry;
    const placeholder = this.list.querySelector("[data-placeholder]");
    if (placeholder) placeholder.remove();
    const isTurn = kind === "message";
    const chip = isTurn ? null : this.chipFor(callId || id, name);
    const li = document.createElement(isTurn ? "li" : "pre");
    li.className = isTurn ? `turn turn-${role} pending unsaved` : "raw pending unsaved";
    li.dataset.itemId = id;
    li.dataset.role = role;
    li.dataset.kind = kind;
    let text = li;
    if (isTurn) {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = role === "user" ? "You" : PERSONAS[persona] || "Tutor";
      text = document.createElement("span");
      text.className = "text";
      if (this.lang) text.lang = this.lang;
      text.textContent = role === "user" ? "…" : "";
      li.append(who, text);
      this.list.append(li);
    } else {
      chip.raw.append(li);
    }
    entry = { id, role, kind, persona, chip, text: "", order: this.nextOrder++, li, textEl: text, complete: false, savedText: null, flagged: false, checked: 0 };
    this.entries.set(id, entry);
    this.scroll();
    return entry;
  }

  // The chip of one tool call (made on first sight of its call or its output).
  chipFor(callId, name = "") {
    let chip = this.chips.get(callId);
    if (chip) return chip;
    const li = document.createElement("li");
    li.className = "activity pending";
    li.dataset.activity = "";
    li.dataset.callId = callId;
    const label = document.createElement("span");
    label.className = "activity-label";
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "details";
    const raw = document.createElement("div");
    raw.className = "activity-raw";
    details.append(summary, raw);
    li.append(label, details);
    this.list.append(li);
    chip = { li, label, raw, name, args: "", output: null, practised: false };
    this.chips.set(callId, chip);
    this.drawChip(chip);
    return chip;
  }

  drawChip(chip) {
    const shown = toolChip({ name: chip.name, args: chip.args, output: chip.output });
    chip.label.textContent = "";
    const [before, after] = shown.word ? splitOnce(shown.label, shown.word) : [shown.label, null];
    chip.label.append(before);
    if (after !== null) {
      const word = document.createElement("span");
      if (this.lang) word.lang = this.lang;
      word.textContent = shown.word;
      chip.label.append(word, after);
    }
    chip.li.classList.toggle("pending", shown.pending);
    chip.li.classList.toggle("failed", shown.failed);
    chip.li.classList.toggle("practised", shown.practised);
    if (shown.practised && !chip.practised) {
      chip.practised = true;
      this.onChip(shown);
    }
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

  // An entry is complete: show its final text and save it (again, if it changed).
  complete(entry, text, raw = {}) {
    this.set(entry, text);
    const first = !entry.complete;
    entry.complete = true;
    entry.li.classList.remove("pending");
    if (entry.chip) this.completeTool(entry, text, raw);
    else if (!entry.flagged && (first || entry.savedText !== text)) this.announce(entry, text);
    if (entry.savedText === text) return;
    if (entry.kind === "message" && entry.role === "assistant") raw = { ...raw, persona: entry.persona };
    const item = { id: entry.id, role: entry.role, kind: entry.kind, text, order: entry.order, raw };
    if (!this.save(item)) return;
    entry.savedText = text;
    entry.li.classList.add("unsaved");
  }

  completeTool(entry, text, raw) {
    const chip = entry.chip;
    if (entry.kind === "function_call") {
      chip.name = raw.name || chip.name;
      chip.args = raw.arguments || "";
    } else {
      chip.output = typeof raw.output === "string" ? raw.output : text;
    }
    this.drawChip(chip);
  }

  // A chip for what the page itself did (the "Quiz me" button), not saved.
  note(callId, name, output) {
    const chip = this.chipFor(callId, name);
    chip.output = output;
    this.drawChip(chip);
  }

  announce(entry, text) {
    if (!this.announcer || !text) return;
    const who = entry.role === "user" ? "You" : PERSONAS[entry.persona] || "Tutor";
    this.announcer.textContent = `${who}: ${text}`;
  }

  // The server acknowledged the item. True the first time a turn is (the saved count counts
  // turns, not tool activity).
  markSaved(id) {
    const entry = this.entries.get(id);
    if (!entry) return false;
    entry.li.classList.remove("unsaved");
    if (entry.li.dataset.saved) return false;
    entry.li.dataset.saved = "true";
    if (entry.kind !== "message") return false;
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

function splitOnce(text, part) {
  const at = text.indexOf(part);
  return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + part.length)];
}
