import { test } from "node:test";
import assert from "node:assert/strict";

import { InvalidTransition, MAX_RESUMES, PageState, STATES, TRANSITIONS } from "../../static/js/tutor/page-state.js";

const S = STATES;

test("a session goes idle -> connecting -> live -> ended, and says so", () => {
  const changes = [];
  const state = new PageState({ onChange: (change) => changes.push(change) });
  assert.equal(state.state, "idle");
  assert.deepEqual(state.start(), { kind: "new" });
  assert.equal(state.live(), true, "the first time live: the tutor greets");
  state.stop(S.ENDED);
  assert.deepEqual(
    changes.map((c) => [c.from, c.to, c.shown]),
    [
      ["idle", "connecting", "connecting"],
      ["connecting", "live", "live"],
      ["live", "ended", "ended"],
    ],
  );
});

test("invalid transitions throw and leave the state alone", () => {
  const state = new PageState();
  assert.throws(() => state.to(S.LIVE), InvalidTransition);
  assert.throws(() => state.stop(S.ENDED), InvalidTransition);
  assert.throws(() => state.fail(), InvalidTransition);
  assert.throws(() => state.to("dancing"), InvalidTransition);
  assert.equal(state.state, S.IDLE);
  state.start();
  assert.throws(() => state.start(), /cannot go from "connecting" to "connecting"/);
  state.live();
  state.stop(S.TIME_UP);
  for (const to of [S.LIVE, S.RECONNECTING, S.ENDED, S.TIME_UP, S.MOVED, S.FAILED]) {
    assert.equal(state.can(to), false, `time_up -> ${to}`);
    assert.throws(() => state.to(to), InvalidTransition);
  }
  assert.equal(state.state, S.TIME_UP);
});

test("stop() takes only the three ways a session stops", () => {
  const state = new PageState();
  state.start();
  assert.throws(() => state.stop(S.FAILED), InvalidTransition);
  assert.throws(() => state.stop(S.LIVE), InvalidTransition);
  state.stop(S.MOVED);
  assert.equal(state.shown, "ended");
  assert.equal(state.isStopped, true);
  assert.equal(state.isOpen, false);
});

test("what the page shows: failed reads error, time_up and moved read ended", () => {
  const state = new PageState();
  state.start();
  state.fail();
  assert.equal(state.state, S.FAILED);
  assert.equal(state.shown, "error");
  state.start();
  state.stop(S.TIME_UP);
  assert.equal(state.shown, "ended");
});

test("every state can be left, and every target is a state", () => {
  const all = Object.values(S);
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...all].sort());
  for (const [from, targets] of Object.entries(TRANSITIONS)) {
    assert.ok(targets.length > 0, from);
    for (const to of targets) assert.ok(all.includes(to), `${from} -> ${to}`);
  }
  for (const stopped of [S.ENDED, S.TIME_UP, S.MOVED]) assert.deepEqual(TRANSITIONS[stopped], [S.CONNECTING]);
});

test("a dropped call resumes at most MAX_RESUMES times in a row; going live resets the count", () => {
  const state = new PageState();
  state.start();
  state.live();
  for (let i = 0; i < MAX_RESUMES; i += 1) assert.equal(state.resume(), true);
  assert.equal(state.state, S.RECONNECTING);
  assert.equal(state.resume(), false, "one more is refused");
  assert.equal(state.live(), false, "live again, but not the first time: no second greeting");
  assert.equal(state.resumes, 0);
  assert.equal(state.resume(), true);
});

test("live() while live changes nothing", () => {
  const changes = [];
  const state = new PageState({ onChange: (c) => changes.push(c.to) });
  state.start();
  state.live();
  assert.equal(state.live(), false);
  assert.deepEqual(changes, ["connecting", "live"]);
});

test("a failed first connect is retried with the same session; a new one greets again", () => {
  const state = new PageState();
  state.start();
  state.firstConnect = true;
  state.fail({ kind: "retry" });
  assert.deepEqual(state.start(), { kind: "retry" });
  assert.equal(state.firstConnect, true, "a retry keeps the session's first-connect mark");
  assert.equal(state.live(), true);
  state.to(S.FAILED);
  assert.deepEqual(state.start(), { kind: "new" }, "the plan is used once");
  assert.equal(state.live(), true, "a new session greets again");
});

test("continue-it-here carries the session id to the next start", () => {
  const state = new PageState();
  state.start();
  state.fail({ kind: "continue", sessionId: 42 });
  assert.deepEqual(state.start(), { kind: "continue", sessionId: 42 });
  state.fail();
  assert.deepEqual(state.start(), { kind: "new" });
});

test("a failed page holding a socket can still be ended, timed out or moved", () => {
  for (const how of [S.ENDED, S.TIME_UP, S.MOVED]) {
    const state = new PageState();
    state.start();
    state.fail({ kind: "retry" });
    state.stop(how);
    assert.equal(state.state, how);
    assert.deepEqual(state.next, { kind: "new" });
  }
});
