import { test } from "node:test";
import assert from "node:assert/strict";

import { Tools, splitHandoff } from "../../static/js/tutor/tools.js";

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

function toolsWith(grant) {
  const seen = { personas: [], notices: [] };
  const view = {
    showPersona: (p) => seen.personas.push(p),
    setQuizEnabled: () => {},
    showNotice: (m) => seen.notices.push(m),
  };
  const tools = new Tools({ session: { grant, client: {} }, transcript: {}, view });
  return { tools, seen };
}

test("with server tools the page takes the handoff and the quiz score from the output it sees", () => {
  const { tools, seen } = toolsWith({ server_tools: true });
  tools.onFunctionCallOutput({ output: JSON.stringify({ quiz_started: true, handoff_to: "examiner" }) });
  tools.onFunctionCallOutput({ output: JSON.stringify({ quiz_finished: true, score: 4, max_score: 5, handoff_to: "tutor" }) });
  assert.deepEqual(seen.personas, ["examiner", "tutor"]);
  assert.deepEqual(seen.notices, ["Oral quiz finished: 4/5. Your grade is saved."]);
});

test("without server tools the outputs the page sent itself change nothing twice", () => {
  const { tools, seen } = toolsWith({ server_tools: false });
  tools.onFunctionCallOutput({ output: JSON.stringify({ handoff_to: "examiner" }) });
  assert.deepEqual(seen, { personas: [], notices: [] });
});

test("with server tools the page never runs a function call itself", async () => {
  let ran = 0;
  const transcript = { ensure: (t) => t, complete: () => {} };
  const session = {
    grant: { server_tools: true },
    socket: { runTool: async () => { ran += 1; return "{}"; } },
    client: { send: () => {} },
    requestResponse: () => {},
  };
  const tools = new Tools({ session, transcript, view: {} });
  await tools.onFunctionCall({ id: "fc", type: "function_call", call_id: "c1", name: "record_word_practice", arguments: "{}" });
  assert.equal(ran, 0);
  session.grant.server_tools = false;
  await tools.onFunctionCall({ id: "fc2", type: "function_call", call_id: "c2", name: "record_word_practice", arguments: "{}" });
  assert.equal(ran, 1);
});

test("the tools read server_tools through the conversation they are given, as the page wires them", async () => {
  const { Conversation } = await import("../../static/js/tutor/conversation.js");
  const session = { grant: { server_tools: true }, client: null, socket: null };
  const conversation = new Conversation({ session, transcript: {}, view: {} });
  const tools = new Tools({ session: conversation, transcript: {}, view: {} });
  assert.equal(tools.serverTools, true);
  session.grant = { server_tools: false };
  assert.equal(tools.serverTools, false);
});
