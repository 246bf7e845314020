"""Tutor sessions and their conversation items: message validation and idempotent writes.

The page sends every completed item with its upstream id, and resends it until it is
acknowledged, so ``conversation_item_save`` must be safe to call any number of times,
from two sockets at once, and must take a later version of an item (a learner's
transcript arriving after the tutor's reply) without letting an older resend undo it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from tutor.models import ConversationItem, TutorSession

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

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
CLOSED_STATUSES = {TutorSession.Status.ENDED, TutorSession.Status.FAILED}


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
    """A ``response.done``'s token usage, normalised by ``tutor.usage.usage_normalize``."""

    response_id: str
    usage: dict[str, int]


@dataclass(frozen=True)
class CheckMessage:
    """The tutor's transcript so far, for the output guardrail (``tutor.guardrail``)."""

    item_id: str
    text: str


Message = ItemMessage | CallMessage | ToolMessage | EndMessage | UsageMessage | CheckMessage


def _storable(text: str) -> bool:
    """PostgreSQL stores neither NUL characters nor lone surrogates (``"\\ud800"`` in JSON)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(content: dict, name: str, *, pattern: re.Pattern | None = None, max_chars: int,
            item_id: str | None = None) -> str:
    value = content.get(name)
    if not isinstance(value, str):
        raise MessageInvalid("invalid", f"{name} must be a string", item_id)
    if len(value) > max_chars:
        raise MessageInvalid("invalid", f"{name} is longer than {max_chars} characters", item_id)
    if not _storable(value):
        raise MessageInvalid("invalid", f"{name} contains characters that cannot be stored", item_id)
    if pattern is not None and not pattern.match(value):
        raise MessageInvalid("invalid", f"{name} has an unexpected format", item_id)
    return value


def _raw_check(value: Any, depth: int = 0) -> None:
    if depth > MAX_RAW_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(value, str):
        if not _storable(value):
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


def _raw(content: dict, item_id: str) -> dict[str, Any]:
    raw = content.get("raw")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MessageInvalid("invalid", "raw must be an object", item_id)
    try:
        _raw_check(raw)
        size = len(json.dumps(raw, ensure_ascii=False, allow_nan=False).encode("utf-8"))
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
    from tutor.usage import MAX_USAGE_BYTES, usage_normalize

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


PARSERS = {"item": _item, "call": _call, "tool": _tool, "end": _end, "usage": _usage, "check": _check}


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


# --- Sessions -----------------------------------------------------------------


class SessionClosed(Exception):
    """The session has ended (or failed) and cannot be connected again."""


def tutor_session_get(*, learner, session_id: int) -> TutorSession | None:
    """The learner's own session ``session_id``; None for a missing or someone else's one."""
    if not 0 < session_id <= MAX_ID:
        return None
    return TutorSession.objects.filter(pk=session_id, learner=learner).first()


def tutor_session_create(
    *, learner, model: str, voice: str, instructions: str, focus_words: list[str], **fields: Any
) -> TutorSession:
    """A new session, its key being minted; ``fields`` sets any other of its columns."""
    return TutorSession.objects.create(
        learner=learner,
        status=TutorSession.Status.MINTED,
        model=model,
        voice=voice,
        instructions=instructions,
        focus_words=list(focus_words),
        **fields,
    )


@transaction.atomic
def session_connect(*, session: TutorSession, call_id: str, now: dt.datetime | None = None) -> TutorSession:
    """Record the WebRTC call: its id (the latest after a reconnect), the first connect time.

    A new call id settles one key minted for the session (``keys_unreported``); the same id
    reported again, as a page's outbox may, settles nothing more.
    """
    locked = TutorSession.objects.select_for_update().get(pk=session.pk)
    return session_connect_locked(locked, call_id=call_id, now=now)


def session_connect_locked(locked: TutorSession, *, call_id: str, now: dt.datetime | None) -> TutorSession:
    """``session_connect`` for a row already locked (``select_for_update``) by the caller."""
    if locked.status in CLOSED_STATUSES:
        raise SessionClosed(f"session {locked.pk} is {locked.status}")
    if call_id != locked.call_id and locked.keys_unreported > 0:
        locked.keys_unreported -= 1
    locked.call_id = call_id
    locked.connected_at = locked.connected_at or now or timezone.now()
    locked.status = TutorSession.Status.LIVE
    locked.save(update_fields=["call_id", "connected_at", "status", "keys_unreported"])
    return locked


@transaction.atomic
def session_end(*, session: TutorSession, reason: str, now: dt.datetime | None = None) -> TutorSession:
    """Mark the session ended with its end time and reason; ending it again changes nothing."""
    locked = TutorSession.objects.select_for_update().get(pk=session.pk)
    if locked.status == TutorSession.Status.ENDED:
        return locked
    locked.status = TutorSession.Status.ENDED
    locked.ended_at = now or timezone.now()
    locked.end_reason = reason[:MAX_REASON_CHARS]
    locked.save(update_fields=["status", "ended_at", "end_reason"])
    return locked


# --- Items --------------------------------------------------------------------


def _item_for_update(session: TutorSession, item_id: str) -> ConversationItem | None:
    return (
        ConversationItem.objects.select_for_update()
        .filter(session=session, item_id=item_id)
        .first()
    )


@transaction.atomic
def _item_save_once(
    *, session, item_id: str, role: str, kind: str, text: str, raw: dict, order: int
) -> tuple[ConversationItem, str]:
    item = _item_for_update(session, item_id)
    if item is None:
        item = ConversationItem.objects.create(
            session=session, item_id=item_id, role=role, kind=kind, text=text, raw=raw, order=order
        )
        return item, CREATED
    if item.text and not text:
        # An older copy (say, a learner turn sent before its transcript came): keep ours.
        return item, UNCHANGED
    changed = []
    if text != item.text:
        item.text = text
        changed.append("text")
    if raw and raw != item.raw:
        item.raw = raw
        changed.append("raw")
    if order != item.order:
        item.order = order
        changed.append("order")
    if not changed:
        return item, UNCHANGED
    item.save(update_fields=[*changed, "updated_at"])
    return item, UPDATED


def conversation_item_save(
    *,
    session: TutorSession,
    item_id: str,
    role: str,
    kind: str,
    text: str,
    raw: dict[str, Any] | None = None,
    order: int = 0,
) -> tuple[ConversationItem, str]:
    """Save one item, once per (session, item id): returns it and created/updated/unchanged.

    A resend with the same content changes nothing; new text or raw data updates the
    item; an empty text never replaces a saved one. Role and kind are kept from the
    first save. Two writers racing on the same new item both succeed: the loser's
    insert hits the unique constraint and it updates the winner's row instead.
    """
    fields = dict(
        session=session, item_id=item_id, role=role, kind=kind, text=text, raw=raw or {}, order=order
    )
    try:
        return _item_save_once(**fields)
    except IntegrityError:
        return _item_save_once(**fields)


# --- Riding out a database restart ----------------------------------------------

logger = logging.getLogger(__name__)
T = TypeVar("T")
DB_RETRY_SECONDS = 20.0
DB_RETRY_FIRST_DELAY_S = 0.1
DB_RETRY_MAX_DELAY_S = 2.0


def db_retrying(
    func: Callable[..., T],
    *,
    within_s: float = DB_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[..., T]:
    """``func`` retried on a lost database connection for up to ``within_s`` seconds.

    Only for idempotent writes such as ``conversation_item_save``: a restarted or failed-over
    database drops every connection, so each retry starts on a fresh one. Call it outside any
    transaction (the connection is closed between attempts). The last error is raised.
    """

    def run(*args, **kwargs) -> T:
        deadline = time.monotonic() + within_s
        delay, attempt = DB_RETRY_FIRST_DELAY_S, 1
        while True:
            try:
                return func(*args, **kwargs)
            except (OperationalError, InterfaceError) as error:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning(
                    "Database unavailable (%s), retrying in %.1f s (attempt %d)",
                    type(error).__name__, delay, attempt + 1,
                )
                connection.close()
                sleep(delay)
                delay, attempt = min(delay * 2, DB_RETRY_MAX_DELAY_S), attempt + 1

    return run
