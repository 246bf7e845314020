import { test } from "node:test";
import assert from "node:assert/strict";

import { splitHandoff } from "../../static/js/tutor/tools.js";

test("a tool output without a handoff is given to the model as it is", () => {
  assert.equal(splitHandoff('{"ok": true}'), null);
  assert.equal(splitHandoff("not json"), null);
  assert.equal(splitHandoff('{"handoff": {"persona": "examiner"}}'), null, "no session config: no handoff");
});

test("a handoff is applied by the page and replaced by handoff_to for the model", () => {
  const output = JSON.stringify({ quiz_id: 3, handoff: { persona: "examiner", session: { instructions: "Quiz." } } });
  assert.deepEqual(splitHandoff(output), {
    session: { instructions: "Quiz." },
    persona: "examiner",
    output: JSON.stringify({ quiz_id: 3, handoff_to: "examiner" }),
    finished: null,
  });
});

test("a finished quiz hands back to the tutor with its score", () => {
  const output = JSON.stringify({ quiz_finished: true, score: 2, max_score: 3, handoff: { persona: "tutor", session: {} } });
  const handoff = splitHandoff(output);
  assert.equal(handoff.persona, "tutor");
  assert.deepEqual(handoff.finished, { score: 2, max: 3 });
  assert.equal(JSON.parse(handoff.output).handoff, undefined);
});
