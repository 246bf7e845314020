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

A new item, the common case, takes two statements: the lock, then one ``INSERT … SELECT …
WHERE <under every cap> ON CONFLICT DO NOTHING``. Only when that inserts nothing (a resend, a
later version, a refusal) does the save read the item and decide.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
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


def _new_item_insert(
    session, *, item_id: str, role: str, kind: str, text: str, raw: dict, order: int | None,
    verified: bool,
) -> ConversationItem | None:
    """A new item in one statement: ``INSERT … SELECT … WHERE <under every cap> ON CONFLICT DO
    NOTHING``. The item, or None when it already exists or a cap refuses it (the caller then
    takes the general path, which tells those apart). Run with the learner's row locked."""
    now = clock.now()
    item = ConversationItem(
        session=session, item_id=item_id, role=role, kind=kind, text=text, raw=raw,
        order=order or 0, verified=verified, size=item_size(text, raw), created_at=now, updated_at=now,
    )
    fields = [f for f in ConversationItem._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(getattr(item, f.attname), connection) for f in fields]
    quote = connection.ops.quote_name
    items, sessions = quote(ConversationItem._meta.db_table), quote(TutorSession._meta.db_table)
    day = connection.ops.adapt_datetimefield_value(day_start(now))
    in_session = f"FROM {items} WHERE session_id = %s"
    in_day = (
        f"FROM {items} i JOIN {sessions} s ON s.id = i.session_id "
        "WHERE s.learner_id = %s AND i.created_at >= %s"
    )
    sql = (
        f"INSERT INTO {items} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(['%s'] * len(fields))} WHERE "
        f"(SELECT COUNT(*) {in_session}) < %s "
        f"AND (%s = 0 OR (SELECT COALESCE(SUM(size), 0) {in_session}) + %s <= %s) "
        f"AND (SELECT COUNT(*) {in_day}) < %s "
        f"AND (%s = 0 OR (SELECT COALESCE(SUM(i.size), 0) {in_day}) + %s <= %s) "
        f"ON CONFLICT (session_id, item_id) DO NOTHING RETURNING id"
    )
    params = [
        *values,
        session.pk, settings.TUTOR_MAX_ITEMS_PER_SESSION,
        item.size, session.pk, item.size, settings.TUTOR_MAX_ITEM_BYTES_PER_SESSION,
        session.learner_id, day, settings.TUTOR_MAX_ITEMS_PER_LEARNER_DAY,
        item.size, session.learner_id, day, item.size, settings.TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    item.pk = row[0]
    item._state.adding = False
    return item


@transaction.atomic
def _item_save_fast(**fields) -> tuple[ConversationItem, str]:
    """Two statements for a new item (the learner's row locked, the insert); anything else
    (a resend, a later version, a refusal) takes ``_item_save_once`` in the same transaction."""
    session = fields["session"]
    _learner_lock(session)
    item = _new_item_insert(**fields)
    if item is not None:
        return item, CREATED
    return _item_save_once(**fields)


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
        # What the call says the item is, not what the page said it was.
        for name, value in (("role", role), ("kind", kind)):
            if getattr(item, name) != value:
                setattr(item, name, value)
                changed.append(name)
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
    save, unless the sideband's copy says otherwise; an ``order`` of None keeps the saved
    one. ``ItemRefused`` when the item would pass
    a storage cap. Two writers racing on the same new item both succeed: the loser's insert
    hits the unique constraint and it updates the winner's row instead.
    """
    fields = dict(
        session=session, item_id=item_id, role=role, kind=kind, text=text, raw=raw or {},
        order=order, verified=verified,
    )
    # The sideband's saves (no order: placed after what is saved) take the general path.
    save = _item_save_fast if order is not None else _item_save_once
    try:
        return save(**fields)
    except IntegrityError:
        return _item_save_once(**fields)


# --- Group commit: the items that arrive together in a process, in one transaction ---------

MAX_BATCH = 100
MAX_IN_FLIGHT = 1  # batches saved at once per process: 4 measured worse (docs/benchmarks.md)


def _batch_save(batch: list[dict[str, Any]]) -> list[tuple[ConversationItem, str] | ItemRefused]:
    """Save every item of ``batch`` in one transaction: the outcome of each, in order.

    The learners' rows are locked in one statement (in id order, so two processes never lock
    in opposite orders), then each new item takes its one insert. A refused item is its
    outcome; any other failure raises and nothing of the batch is saved."""
    with transaction.atomic():
        learner_ids = sorted({fields["session"].learner_id for fields in batch})
        list(
            User.objects.select_for_update().filter(pk__in=learner_ids).order_by("pk").values_list("pk", flat=True)
        )
        outcomes: list[tuple[ConversationItem, str] | ItemRefused] = []
        for fields in batch:
            item = _new_item_insert(**fields)
            if item is not None:
                outcomes.append((item, CREATED))
                continue
            try:
                outcomes.append(_item_save_once(**fields))  # its own savepoint
            except ItemRefused as refused:
                outcomes.append(refused)
        return outcomes


def items_save(batch: list[dict[str, Any]]) -> list[Any]:
    """``conversation_item_save`` for each of ``batch`` (its keyword arguments), in one
    transaction when it can be; each outcome (an exception for an item that failed), in order.

    A batch that fails is saved again one item at a time, so one bad item never blocks the
    others; a lost database connection is retried (``db_retrying``) and then raised for all."""
    batch = [{"raw": None, "order": 0, "verified": False, **fields} for fields in batch]
    batch = [{**fields, "raw": fields["raw"] or {}} for fields in batch]
    try:
        return db_retrying(_batch_save)(batch)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        if len(batch) > 1:
            logger.warning("A batch of %d items failed; saving them one by one", len(batch), exc_info=True)
    outcomes: list[Any] = []
    for fields in batch:
        try:
            outcomes.append(db_retrying(conversation_item_save)(**fields))
        except Exception as error:  # noqa: BLE001 (the item's own outcome, raised to its sender)
            outcomes.append(error)
    return outcomes


class ItemBatcher:
    """Group commit for one event loop: an item that arrives while batches are being saved
    waits, then goes with every other item that arrived meanwhile (at most ``MAX_BATCH``) in
    one transaction; up to ``MAX_IN_FLIGHT`` batches are saved at once, each on its own
    connection. Its sender is answered only once that transaction has committed."""

    def __init__(self) -> None:
        self.pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        self.draining: set[asyncio.Task] = set()

    async def save(self, **fields: Any) -> tuple[ConversationItem, str]:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((fields, future))
        if len(self.draining) < MAX_IN_FLIGHT:
            task = asyncio.get_running_loop().create_task(self._drain())
            self.draining.add(task)
            task.add_done_callback(self.draining.discard)
        return await future

    async def _drain(self) -> None:
        from channels.db import database_sync_to_async

        while self.pending:
            await asyncio.sleep(0)  # let the items that arrived together join
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            if not batch:
                return
            try:
                outcomes = await database_sync_to_async(items_save, thread_sensitive=False)(
                    [fields for fields, _ in batch]
                )
            except Exception as error:  # noqa: BLE001 (every sender hears of it)
                outcomes = [error] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its socket went away meanwhile
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def conversation_item_save_batched(**fields: Any) -> tuple[ConversationItem, str]:
    """``conversation_item_save`` through this event loop's ``ItemBatcher``."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = ItemBatcher()
    return await batcher.save(**fields)


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
