import { test } from "node:test";
import assert from "node:assert/strict";

import { failureText, toolChip } from "../../static/js/tutor/activity.js";

const practice = JSON.stringify({ word: "casa", outcome: "correct" });

test("a practised word is a tick chip, never JSON", () => {
  const output = JSON.stringify({ recorded: true, word: "casa", outcome: "correct", next_review_in_days: 105 });
  const chip = toolChip({ name: "record_word_practice", args: practice, output });
  assert.deepEqual(chip, { label: "✓ casa practised", word: "casa", practised: true, failed: false, pending: false });
  assert.equal(toolChip({ name: "record_word_practice", args: practice }).label, "recording casa…");
  const refused = toolChip({ name: "record_word_practice", args: practice, output: JSON.stringify({ error: "unknown word" }) });
  assert.deepEqual([refused.label, refused.practised, refused.failed], ["casa not recorded", false, true]);
});

test("other tools have plain labels", () => {
  assert.equal(toolChip({ name: "start_oral_quiz", args: "{}", output: JSON.stringify({ quiz_started: true }) }).label, "quiz started");
  assert.equal(toolChip({ name: "start_oral_quiz", args: "{}", output: JSON.stringify({ error: "no words" }) }).label, "quiz could not start");
  assert.equal(toolChip({ name: "get_word_details", args: practice, output: JSON.stringify({ word: "casa", meaning: "house" }) }).label, "looked up casa");
  const answer = toolChip({ name: "record_quiz_answer", args: practice, output: JSON.stringify({ recorded: true, word: "casa", remaining: 2 }) });
  assert.deepEqual([answer.label, answer.practised], ["✓ casa answered", true]);
  const last = toolChip({ name: "record_quiz_answer", args: practice, output: JSON.stringify({ recorded: true, word: "casa", quiz_finished: true, score: 3, max_score: 4 }) });
  assert.equal(last.label, "quiz finished: 3/4");
  assert.equal(toolChip({ name: "finish_oral_quiz", output: JSON.stringify({ score: 2, max_score: 3 }) }).label, "quiz finished: 2/3");
  assert.equal(toolChip({ name: "something_new", output: "{}" }).label, "✓ something_new done");
  assert.equal(toolChip({ name: "", output: JSON.stringify({ recorded: true, word: "perro" }) }).label, "✓ perro practised");
});

test("labels survive arguments and outputs that are not JSON", () => {
  for (const args of ["", "not json", "[1]", "null"]) {
    const chip = toolChip({ name: "record_word_practice", args, output: "oops" });
    assert.equal(typeof chip.label, "string");
    assert.ok(!chip.label.includes("{"), chip.label);
  }
  const long = toolChip({ name: "record_word_practice", args: JSON.stringify({ word: "x".repeat(500) }) });
  assert.ok(long.label.length < 60);
});

test("a failed response says the API's type and code in plain words", () => {
  assert.equal(
    failureText({ type: "failed", error: { type: "server_error", code: "stand_in_error" } }),
    "The tutor could not answer: the voice service had a problem on its side (stand in error). Say something or type to try again.",
  );
  assert.match(failureText({ error: { type: "invalid_request_error", code: "rate_limit_exceeded" } }), /did not accept the request \(too many requests/);
  assert.match(failureText({ reason: "content_filter" }), /content filter/);
  assert.match(failureText({ error: { message: "Something odd" } }), /Something odd/);
  assert.match(failureText(null), /gave no reason/);
  assert.doesNotMatch(failureText(undefined), /unknown error/);
});
