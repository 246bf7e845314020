// The page's mint: a key in the browser mode, a reservation without a key when the server
// creates the call (`call_setup: "server"`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Keys } from "../../static/js/tutor/keys.js";

function answering(status, payload) {
  const sent = [];
  globalThis.fetch = async (url, init) => {
    sent.push({ url, init });
    return { ok: status < 400, status, json: async () => payload };
  };
  return sent;
}

test("a browser-mode answer without a key is refused", async () => {
  answering(200, { session_id: 3, call_setup: "browser", client_secret: "" });
  const keys = new Keys({ tokenUrl: "/tutor/token/", csrfToken: "t" });
  await assert.rejects(keys.mint({}), /Could not start a session/);
});

test("a server-mode answer carries no key and is accepted once", async () => {
  const sent = answering(200, { session_id: 3, call_setup: "server", client_secret: "", expires_in: 30 });
  const keys = new Keys({ tokenUrl: "/tutor/token/", csrfToken: "t" });
  const grant = await keys.mint({});
  assert.equal(grant.call_setup, "server");
  assert.equal(sent[0].init.headers["X-CSRFToken"], "t");
  // Once spent on a call, the reservation is not offered again: a new mint is asked for.
  keys.used();
  await keys.keyFor(3, grant);
  assert.equal(sent.length, 2);
  assert.equal(sent[1].init.body, JSON.stringify({ session_id: 3 }));
});

test("each page knows itself by its own id", () => {
  const one = new Keys({ tokenUrl: "/t/", csrfToken: "t" });
  const two = new Keys({ tokenUrl: "/t/", csrfToken: "t" });
  assert.match(one.pageId, /^[A-Za-z0-9_-]{1,64}$/);
  assert.notEqual(one.pageId, two.pageId);
});
