"""Conversation items, saved once per (session, upstream item id), whoever sends them.

The page sends every completed item with its upstream id, and resends it until it is
acknowledged, so ``conversation_item_save`` must be safe to call any number of times,
from two sockets at once, and must take a later version of an item (a learner's
transcript arriving after the tutor's reply) without letting an older resend undo it.

What is stored has bounds: at most ``TUTOR_MAX_ITEMS_PER_SESSION`` items and
``TUTOR_MAX_ITEM_BYTES_PER_SESSION`` bytes (text and raw data) a session, and likewise per
learner per day (``TUTOR_MAX_ITEMS_PER_LEARNER_DAY``, ``TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY``).
The totals are counted in the database inside the save's transaction, with the learner's row
locked, so two sockets or two processes saving at once cannot both slip under a cap.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Count, Sum

from accounts.models import User
from common import clock
from tutor.models import ConversationItem, TutorSession
from voice.metering import day_start

logger = logging.getLogger(__name__)
T = TypeVar("T")

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


class ItemRefused(Exception):
    """An item that would take its session or its learner's day past a storage cap.

    ``code`` is ``too_many`` (items) or ``too_large`` (bytes); nothing was saved."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def item_size(text: str, raw: dict[str, Any] | None) -> int:
    """The bytes an item counts against the caps: its text and its raw data as JSON."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if raw:
        size += len(json.dumps(raw, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return size


def _totals(queryset) -> tuple[int, int]:
    totals = queryset.aggregate(items=Count("pk"), size=Sum("size"))
    return totals["items"], totals["size"] or 0


def _caps_check(session: TutorSession, *, new_items: int, new_bytes: int) -> None:
    """Raise ``ItemRefused`` if ``new_items`` more items and ``new_bytes`` more bytes would
    take ``session`` or its learner's day past a cap. Run with the learner's row locked."""
    if new_items <= 0 and new_bytes <= 0:
        return
    scopes = [
        (
            ConversationItem.objects.filter(session=session),
            settings.TUTOR_MAX_ITEMS_PER_SESSION,
            settings.TUTOR_MAX_ITEM_BYTES_PER_SESSION,
            "this session",
        ),
        (
            ConversationItem.objects.filter(
                session__learner_id=session.learner_id, created_at__gte=day_start(clock.now())
            ),
            settings.TUTOR_MAX_ITEMS_PER_LEARNER_DAY,
            settings.TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY,
            "today",
        ),
    ]
    for queryset, max_items, max_bytes, scope in scopes:
        count, size = _totals(queryset)
        if new_items > 0 and count + new_items > max_items:
            raise ItemRefused("too_many", f"No more than {max_items} conversation items are kept for {scope}.")
        if new_bytes > 0 and size + new_bytes > max_bytes:
            raise ItemRefused("too_large", f"No more than {max_bytes} bytes of conversation are kept for {scope}.")


def _learner_lock(session: TutorSession) -> None:
    # Every save of one learner's items queues here, so the totals counted next are exact.
    User.objects.select_for_update().filter(pk=session.learner_id).values_list("pk", flat=True).first()


def _item_for_update(session: TutorSession, item_id: str) -> ConversationItem | None:
    return (
        ConversationItem.objects.select_for_update()
        .filter(session=session, item_id=item_id)
        .first()
    )


def _next_order(session: TutorSession) -> int:
    last = ConversationItem.objects.filter(session=session).order_by("-order").values_list("order", flat=True).first()
    return 0 if last is None else last + 1


@transaction.atomic
def _item_save_once(
    *, session, item_id: str, role: str, kind: str, text: str, raw: dict, order: int | None,
    verified: bool,
) -> tuple[ConversationItem, str]:
    _learner_lock(session)
    item = _item_for_update(session, item_id)
    if item is None:
        size = item_size(text, raw)
        _caps_check(session, new_items=1, new_bytes=size)
        if order is None:  # the sideband's save: after what is saved, until the page places it
            order = _next_order(session)
        item = ConversationItem.objects.create(
            session=session, item_id=item_id, role=role, kind=kind, text=text, raw=raw,
            order=order, verified=verified, size=size, created_at=clock.now(),
        )
        return item, CREATED
    if item.flagged:
        # Stopped by the guardrail: what was flagged is the evidence staff read; keep it.
        return item, UNCHANGED
    if item.verified and not verified:
        # The server saw this item on the call itself: the page's copy changes nothing but
        # the item's place in the transcript, which is the page's to say.
        if order is None or order == item.order:
            return item, UNCHANGED
        item.order = order
        item.save(update_fields=["order", "updated_at"])
        return item, UPDATED
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
    if order is not None and order != item.order:
        item.order = order
        changed.append("order")
    if verified and not item.verified:
        item.verified = True
        changed.append("verified")
    if not changed:
        return item, UNCHANGED
    # A later version replaces the earlier one: only the difference counts against the caps.
    size = item_size(item.text, item.raw)
    _caps_check(session, new_items=0, new_bytes=size - item.size)
    if size != item.size:
        item.size = size
        changed.append("size")
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
    order: int | None = 0,
    verified: bool = False,
) -> tuple[ConversationItem, str]:
    """Save one item, once per (session, item id): returns it and created/updated/unchanged.

    Two writers send items: the page, and the server's own sideband on the call
    (``verified``), whichever comes first. A resend with the same content changes nothing;
    new text or raw data updates the item; an empty text never replaces a saved one; nothing
    the page sends replaces an item the sideband saw, and nothing replaces an item the
    guardrail flagged (the evidence staff review). Role and kind are kept from the first
    save; an ``order`` of None keeps the saved one. ``ItemRefused`` when the item would pass
    a storage cap. Two writers racing on the same new item both succeed: the loser's insert
    hits the unique constraint and it updates the winner's row instead.
    """
    fields = dict(
        session=session, item_id=item_id, role=role, kind=kind, text=text, raw=raw or {},
        order=order, verified=verified,
    )
    try:
        return _item_save_once(**fields)
    except IntegrityError:
        return _item_save_once(**fields)


# --- Riding out a database restart ----------------------------------------------

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
