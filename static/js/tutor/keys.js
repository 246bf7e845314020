// Ephemeral keys from POST /tutor/token/. The server charges every key it mints until the
// page reports the call made with it, so a key that has opened no call yet, and has life
// left, is used again rather than a new one minted.

import { RealtimeError } from "../realtime-client.js";

// A key with less life left than this is not worth a connect: mint a fresh one.
const KEY_MARGIN_MS = 10000;

export class Keys {
  constructor({ tokenUrl, csrfToken }) {
    this.tokenUrl = tokenUrl;
    this.csrfToken = csrfToken;
    this.unused = false;
    this.usableUntil = 0;
    // This page, when the server creates the calls: a "moved" that names it is its own call.
    this.pageId = pageIdMake();
  }

  // A call was made with the current key (or the key was refused): do not use it again.
  used() {
    this.unused = false;
  }

  // A key for `sessionId`: `current` while it has opened no call and has life left.
  async keyFor(sessionId, current) {
    if (this.unused && current && Date.now() < this.usableUntil) return current;
    return this.mint({ session_id: sessionId });
  }

  // `body`: {} for a new session, {session_id} to resume or continue one.
  async mint(body) {
    let response;
    try {
      response = await fetch(this.tokenUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrfToken },
        body: JSON.stringify(body),
      });
    } catch (_) {
      throw new RealtimeError("Could not reach Parlance. Check your connection and try again.");
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) { /* not JSON */ }
    // With `call_setup` "server" there is no key: the mint is spent by the call itself.
    const granted = payload && payload.session_id && (payload.call_setup === "server" || payload.client_secret);
    if (!response.ok || !granted) {
      const error = (payload && payload.error) || {};
      throw new RealtimeError(error.message || `Could not start a session (HTTP ${response.status}).`, {
        status: response.status,
        code: error.code || "",
        sessionId: error.session_id || null,
      });
    }
    this.unused = true;
    const lifeMs = (Number(payload.expires_in) || 0) * 1000;
    this.usableUntil = Date.now() + lifeMs - KEY_MARGIN_MS;
    return payload;
  }
}

function pageIdMake() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") return globalThis.crypto.randomUUID();
  return `page-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
