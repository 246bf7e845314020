// What a tool call looks like to the learner: a small chip ("✓ casa practised", "quiz
// started"), never a turn. The raw call and output stay behind a details toggle and in the
// saved items. Pure: no DOM.

function parse(text) {
  if (typeof text !== "string" || !text) return null;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch (_) {
    return null;
  }
}

function short(text, limit = 40) {
  const clean = String(text || "").replace(/\s+/g, " ").trim();
  return clean.length > limit ? `${clean.slice(0, limit - 1)}…` : clean;
}

// `{name, args, output}`: the call's name, its arguments (JSON text) and its output (JSON text,
// or null while the tool runs). Returns the chip's label, the word it is about (shown in the
// target language), whether that word was practised, and whether the tool failed.
export function toolChip({ name, args = "", output = null }) {
  const input = parse(args) || {};
  const result = output === null || output === undefined ? null : parse(output) || { text: output };
  const word = short((result && typeof result.word === "string" && result.word) || (typeof input.word === "string" && input.word) || "");
  const pending = result === null;
  const failed = Boolean(result && result.error);
  const chip = (label, extra = {}) => ({ label, word, practised: false, failed, pending, ...extra });
  switch (name) {
    case "record_word_practice":
      if (pending) return chip(word ? `recording ${word}…` : "recording…");
      if (failed) return chip(word ? `${word} not recorded` : "not recorded");
      return chip(`✓ ${word} practised`, { practised: Boolean(result.recorded && word) });
    case "record_quiz_answer":
      if (pending) return chip("checking the answer…");
      if (failed) return chip("answer not recorded");
      if (result.quiz_finished) return chip(`quiz finished: ${result.score}/${result.max_score}`, { practised: Boolean(word) });
      return chip(word ? `✓ ${word} answered` : "✓ answer recorded", { practised: Boolean(result.recorded && word) });
    case "get_word_details":
      if (pending) return chip(word ? `looking up ${word}…` : "looking up…");
      return chip(failed ? "word not found" : `looked up ${word}`);
    case "start_oral_quiz":
      if (pending) return chip("starting the quiz…");
      return chip(failed ? "quiz could not start" : "quiz started", { word: "" });
    case "finish_oral_quiz":
      if (pending) return chip("finishing the quiz…");
      if (failed) return chip("quiz not finished", { word: "" });
      return chip(result.score !== undefined ? `quiz finished: ${result.score}/${result.max_score}` : "quiz finished", { word: "" });
    default:
      // A call this page never saw (its output came first, or after a reload).
      if (!pending && !failed && result.recorded && word) return chip(`✓ ${word} practised`, { practised: true });
      return chip(pending ? "working…" : failed ? "tool failed" : `✓ ${short(name, 30) || "tool"} done`, { word: "" });
  }
}

// Plain words for why a response failed: the API sends `status_details.error` with `type` and
// `code` (its `message` is not promised).
const PLAIN = Object.freeze({
  rate_limit_exceeded: "too many requests to the voice service just now",
  insufficient_quota: "the voice service's usage quota is used up",
  server_error: "the voice service had a problem on its side",
  invalid_request_error: "the voice service did not accept the request",
  content_filter: "the voice service's content filter stopped the reply",
  max_output_tokens: "the reply was cut off at its length limit",
  turn_detected: "you started speaking",
  client_cancelled: "it was interrupted",
});

function plain(word) {
  return PLAIN[word] || String(word).replace(/[_.]+/g, " ").trim();
}

export function failureText(statusDetails) {
  const details = statusDetails && typeof statusDetails === "object" ? statusDetails : {};
  const error = details.error && typeof details.error === "object" ? details.error : {};
  const parts = [];
  if (error.type) parts.push(plain(error.type));
  if (error.code && error.code !== error.type) parts.push(`(${plain(error.code)})`);
  if (!parts.length && details.reason) parts.push(plain(details.reason));
  if (!parts.length && error.message) parts.push(short(error.message, 160));
  const why = parts.join(" ") || "the voice service gave no reason";
  return `The tutor could not answer: ${why}. Say something or type to try again.`;
}
