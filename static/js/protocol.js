// The conversation socket's protocol, as the page sees it: every message type it sends and
// receives, the server's error codes it acts on, and the socket's close codes. One list,
// mirroring the server's voice/protocol.py (tests/voice/test_protocol_mirror.py compares the
// two). Pure: nothing here touches the DOM or the network.

// Page -> server.
export const SEND = Object.freeze({
  ITEM: "item", // {item: {id, role, kind, text, order, raw}}
  CALL: "call", // {call_id}
  TOOL: "tool", // {call_id, name, arguments}
  END: "end", // {reason}
  USAGE: "usage", // {response_id, usage}
  CHECK: "check", // {item_id, text}
});

// Server -> page.
export const RECEIVE = Object.freeze({
  ACK: "ack", // {item_id, flagged?, message?}
  CALL_ACK: "call_ack", // {call_id, hangup_at, seconds_left}
  TOOL_RESULT: "tool_result", // {call_id, output}
  ENDED: "ended", // {session_id, duration_seconds}
  USAGE_ACK: "usage_ack", // {response_id}
  GUARDRAIL: "guardrail", // {item_id, tripped, message}
  MOVED: "moved", // {message}
  TIME_UP: "time_up", // {reason, message}
  ERROR: "error", // {code, message, item_id?, response_id?}
});

// The socket's close codes. The server accepts the socket, then closes it with one of these,
// so the page sees the real code rather than 1006.
export const CLOSE = Object.freeze({
  NORMAL: 1000, // the page closed it
  NOT_SIGNED_IN: 4401, // signed out: the outbox waits for this learner to sign in again
  NOT_FOUND: 4404, // not this learner's session, or no such session
  SESSION_CLOSED: 4409, // the session has ended
  TRY_AGAIN_LATER: 4503, // the channel layer is down
});

// On these the page stops reconnecting. It drops that session's outbox, which no resend could
// deliver, except after 4401: the outbox is the learner's own (keyed by learner), and is sent
// when they sign in again. Any other code (4503, 1006, ...) is retried with backoff.
export const FINAL_CLOSE_CODES = new Set([CLOSE.NOT_SIGNED_IN, CLOSE.NOT_FOUND, CLOSE.SESSION_CLOSED]);

export function isFinalClose(code) {
  return FINAL_CLOSE_CODES.has(code);
}

// `error` codes after which the server will never accept that item or usage record.
export const ITEM_REFUSED = new Set(["invalid", "too_large", "too_many", "session_ended"]);
export const USAGE_REFUSED = new Set(["invalid", "too_large", "too_many", "session_ended"]);

// The key endpoint's refusals of a resume that mean the session is over: stop, don't retry.
export const MINT_FINAL_CODES = new Set(["time_limit", "minutes_used", "session_ended", "not_found"]);
// The key endpoint's refusal when the learner has a session open elsewhere.
export const MINT_SESSION_LIVE = "session_live";

// What the page sends, built in one place.
export const itemMessage = (item) => ({ type: SEND.ITEM, item });
export const callMessage = (callId) => ({ type: SEND.CALL, call_id: callId });
export const toolMessage = (callId, name, args) => ({ type: SEND.TOOL, call_id: callId, name, arguments: args });
export const endMessage = (reason) => ({ type: SEND.END, reason });
export const usageMessage = (responseId, usage) => ({ type: SEND.USAGE, response_id: responseId, usage });
export const checkMessage = (itemId, text) => ({ type: SEND.CHECK, item_id: itemId, text });

// The outbox key a sent message is kept under until acknowledged (null: not kept).
// One entry per item, call and usage record; one end marker.
export function outboxKey(message) {
  switch (message && message.type) {
    case SEND.ITEM:
      return `item:${message.item.id}`;
    case SEND.CALL:
      return `call:${message.call_id}`;
    case SEND.USAGE:
      return `usage:${message.response_id}`;
    case SEND.END:
      return "end";
    default:
      return null;
  }
}

// The outbox keys a server message settles: acknowledged, or refused for good.
export function settledKeys(message) {
  switch (message && message.type) {
    case RECEIVE.ACK:
      return [`item:${message.item_id}`];
    case RECEIVE.CALL_ACK:
      return [`call:${message.call_id}`];
    case RECEIVE.USAGE_ACK:
      return [`usage:${message.response_id}`];
    case RECEIVE.ENDED:
      return ["end"];
    case RECEIVE.ERROR: {
      const keys = [];
      if (message.item_id && ITEM_REFUSED.has(message.code)) keys.push(`item:${message.item_id}`);
      if (message.response_id && USAGE_REFUSED.has(message.code)) keys.push(`usage:${message.response_id}`);
      return keys;
    }
    default:
      return [];
  }
}

// The order an outbox is resent in: the call first, items in conversation order, the end last.
export function resendOrder(messages) {
  const rank = (m) => (m.type === SEND.CALL ? 0 : m.type === SEND.END ? 2 : 1);
  const order = (m) => (m.item && m.item.order) || 0;
  return [...messages].sort((a, b) => rank(a) - rank(b) || order(a) - order(b));
}
