"""The conversation socket's protocol: every message type, reply and close code, defined once.

The page (``static/js/protocol.js`` mirrors this module) sends completed conversation items,
its call id, tool calls, token usage, guardrail checks and the end of the session; the server
answers each with one reply. ``message_parse`` turns a decoded frame into a typed message or
raises ``MessageInvalid``; the ``*_reply`` helpers build what goes back.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from common.text import storable
from tutor.models import ConversationItem
from voice.usage import MAX_USAGE_BYTES, usage_normalize

# Close codes. The server accepts a socket before closing it with one of these, so the page
# sees the code (a close before the handshake reaches the browser as 1006).
CLOSE_UNAUTHENTICATED = 4401  # signed out: the page stops and asks the learner to sign in
CLOSE_NOT_FOUND = 4404  # no such session, or someone else's: the page stops, drops its outbox
CLOSE_SESSION_CLOSED = 4409  # the session has ended: nothing more is saved on it
CLOSE_TRY_AGAIN_LATER = 4503  # the channel layer is down: the page retries later
# The codes after which the page must not reconnect (``FINAL_CLOSE_CODES`` in protocol.js).
FINAL_CLOSE_CODES = frozenset({CLOSE_UNAUTHENTICATED, CLOSE_NOT_FOUND, CLOSE_SESSION_CLOSED})

# Messages from the page, by their "type".
ITEM, CALL, TOOL, END, USAGE, CHECK = "item", "call", "tool", "end", "usage", "check"
# Replies from the server, by their "type".
ACK, CALL_ACK, TOOL_RESULT, ENDED, USAGE_ACK = "ack", "call_ack", "tool_result", "ended", "usage_ack"
GUARDRAIL, MOVED, TIME_UP, ERROR = "guardrail", "moved", "time_up", "error"

MOVED_MESSAGE = "This session went on in another window."

MAX_MESSAGE_BYTES = 128 * 1024
MAX_TEXT_CHARS = 20_000
MAX_RAW_BYTES = 64 * 1024
MAX_RAW_DEPTH = 32
MAX_ORDER = 2_147_483_647
MAX_REASON_CHARS = 64
MAX_ID = 2**63 - 1

ITEM_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,128}$")
CALL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
REASON = re.compile(r"^[A-Za-z0-9_\-.: ]{1,64}$")

# "tool" marks the output of a server-side tool (a function_call_output item).
ROLES = {"user", "assistant", "tool"}
KINDS = {choice.value for choice in ConversationItem.Kind}



# --- Messages from the page -------------------------------------------------


class MessageInvalid(Exception):
    """A message from the page that must not be acted on; ``code`` tells the page why."""

    def __init__(
        self, code: str, message: str, item_id: str | None = None, *, response_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.item_id = item_id
        self.response_id = response_id


@dataclass(frozen=True)
class ItemMessage:
    item_id: str
    role: str
    kind: str
    text: str
    order: int
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallMessage:
    call_id: str


@dataclass(frozen=True)
class ToolMessage:
    """A function call to relay. Only ``call_id`` is checked here: a wrong name or
    arguments still get an answer for the model, an error output from the tool runner."""

    call_id: str
    name: Any
    arguments: Any


@dataclass(frozen=True)
class EndMessage:
    reason: str


@dataclass(frozen=True)
class UsageMessage:
    """A ``response.done``'s token usage, normalised by ``voice.usage.usage_normalize``."""

    response_id: str
    usage: dict[str, int]


@dataclass(frozen=True)
class CheckMessage:
    """The tutor's transcript so far, for the output guardrail (``voice.guardrail``)."""

    item_id: str
    text: str


Message = ItemMessage | CallMessage | ToolMessage | EndMessage | UsageMessage | CheckMessage


def _string(content: dict, name: str, *, pattern: re.Pattern | None = None, max_chars: int,
            item_id: str | None = None) -> str:
    value = content.get(name)
    if not isinstance(value, str):
        raise MessageInvalid("invalid", f"{name} must be a string", item_id)
    if len(value) > max_chars:
        raise MessageInvalid("invalid", f"{name} is longer than {max_chars} characters", item_id)
    if not storable(value):
        raise MessageInvalid("invalid", f"{name} contains characters that cannot be stored", item_id)
    if pattern is not None and not pattern.match(value):
        raise MessageInvalid("invalid", f"{name} has an unexpected format", item_id)
    return value


def _raw_check(value: Any, depth: int = 0) -> None:
    if depth > MAX_RAW_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(value, str):
        if not storable(value):
            raise ValueError("contains characters that cannot be stored")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _raw_check(key, depth + 1)
            _raw_check(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _raw_check(inner, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("contains a number JSON cannot hold")


# One encoder for every item's raw data: json.dumps with options builds a new one each call.
_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _raw(content: dict, item_id: str) -> dict[str, Any]:
    raw = content.get("raw")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MessageInvalid("invalid", "raw must be an object", item_id)
    try:
        _raw_check(raw)
        size = len(_RAW_ENCODER.encode(raw).encode("utf-8"))
    except ValueError as error:
        raise MessageInvalid("invalid", f"raw {error}", item_id) from None
    if size > MAX_RAW_BYTES:
        raise MessageInvalid("invalid", f"raw is larger than {MAX_RAW_BYTES} bytes", item_id)
    return raw


def _item(content: dict) -> ItemMessage:
    item = content.get("item")
    if not isinstance(item, dict):
        raise MessageInvalid("invalid", "item must be an object")
    item_id = _string(item, "id", pattern=ITEM_ID, max_chars=128)
    role = item.get("role")
    if not isinstance(role, str) or role not in ROLES:  # a dict or list is unhashable
        raise MessageInvalid("invalid", "role must be user, assistant or tool", item_id)
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise MessageInvalid("invalid", f"kind must be one of {', '.join(sorted(KINDS))}", item_id)
    text = _string(item, "text", max_chars=MAX_TEXT_CHARS, item_id=item_id)
    order = item.get("order")
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= MAX_ORDER:
        raise MessageInvalid("invalid", "order must be a whole number from 0", item_id)
    return ItemMessage(
        item_id=item_id, role=role, kind=kind, text=text, order=order, raw=_raw(item, item_id)
    )


def _call(content: dict) -> CallMessage:
    return CallMessage(call_id=_string(content, "call_id", pattern=CALL_ID, max_chars=128))


def _tool(content: dict) -> ToolMessage:
    return ToolMessage(
        call_id=_string(content, "call_id", pattern=CALL_ID, max_chars=128),
        name=content.get("name"),
        arguments=content.get("arguments"),
    )


def _end(content: dict) -> EndMessage:
    if content.get("reason") is None:
        return EndMessage(reason="user")
    return EndMessage(reason=_string(content, "reason", pattern=REASON, max_chars=MAX_REASON_CHARS))


def _usage(content: dict) -> UsageMessage:
    response_id = _string(content, "response_id", pattern=ITEM_ID, max_chars=128)
    usage = content.get("usage")
    try:
        size = len(json.dumps(usage, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (ValueError, TypeError):
        size = MAX_USAGE_BYTES + 1
    if size > MAX_USAGE_BYTES:
        raise MessageInvalid(
            "invalid", f"usage must be JSON of at most {MAX_USAGE_BYTES} bytes", response_id=response_id
        )
    try:
        normalised = usage_normalize(usage)
    except ValueError as error:
        raise MessageInvalid("invalid", f"usage {error}", response_id=response_id) from None
    return UsageMessage(response_id=response_id, usage=normalised)


def _check(content: dict) -> CheckMessage:
    item_id = _string(content, "item_id", pattern=ITEM_ID, max_chars=128)
    # No item id on a refusal here: the page would drop that item from its outbox.
    return CheckMessage(item_id=item_id, text=_string(content, "text", max_chars=MAX_TEXT_CHARS))


PARSERS = {ITEM: _item, CALL: _call, TOOL: _tool, END: _end, USAGE: _usage, CHECK: _check}


def message_parse(content: Any) -> Message:
    """The typed message in ``content`` (decoded JSON), or ``MessageInvalid``.

    Codes: ``invalid`` (wrong shape, type, size or format) and ``unknown_type``.
    Unknown extra fields are ignored.
    """
    if not isinstance(content, dict):
        raise MessageInvalid("invalid", "a message must be a JSON object")
    kind = content.get("type")
    parser = PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        shown = kind[:32] if isinstance(kind, str) else kind if kind is None else type(kind).__name__
        raise MessageInvalid("unknown_type", f"unknown message type {shown!r}")
    return parser(content)




# --- Replies ------------------------------------------------------------------------------

# The codes of ``error`` replies: ``invalid`` and ``unknown_type`` (``message_parse``),
# ``bad_json``, ``binary``, ``too_large`` (a frame, or an item past a byte cap of
# ``voice.items``), ``too_many`` (an item past a count cap; a usage record past the session's),
# ``rate_limited`` (a guardrail check over the moderation limits), ``session_ended`` and
# ``server_error``. With an ``item_id``, ``invalid``, ``too_large`` and ``too_many`` are final
# for that item: the page drops it from its outbox.
ITEM_FINAL_ERRORS = frozenset({"invalid", "too_large", "too_many", "session_ended"})


def error_reply(
    code: str, message: str, *, item_id: str | None = None, response_id: str | None = None
) -> dict[str, Any]:
    """An ``error`` reply; ``item_id``/``response_id`` tell the page which message failed."""
    reply: dict[str, Any] = {"type": ERROR, "code": code, "message": message}
    if item_id is not None:
        reply["item_id"] = item_id
    if response_id is not None:
        reply["response_id"] = response_id
    return reply


def invalid_reply(problem: MessageInvalid) -> dict[str, Any]:
    return error_reply(
        problem.code, problem.message, item_id=problem.item_id, response_id=problem.response_id
    )
