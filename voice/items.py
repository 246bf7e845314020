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
later version, a refusal) does the save read the item and decide. A batch of items (group
commit) takes two statements whatever its size: one locks its learners and reads which of its
sessions are still open, one inserts every new item under the caps.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.db.models import Count, Sum

from accounts.models import User
from common import clock
from common.db import row_lock
from tutor.models import ConversationItem, TutorSession
from voice.metering import CLOSED_STATUSES, day_start

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


class SessionEnded(Exception):
    """An item sent with ``open_only`` for a session that has ended (or whose learner was
    deactivated); nothing was saved."""


# One encoder for every item: json.dumps with options builds a new one each call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def item_size(text: str, raw: dict[str, Any] | None) -> int:
    """The bytes an item counts against the caps: its text and its raw data as JSON."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if raw:
        size += len(_ENCODER.encode(raw).encode("utf-8", "surrogatepass"))
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
    row_lock(User, session.learner_id)


def _sessions_lock(sessions: list[TutorSession]) -> set[int]:
    """Lock the learners of ``sessions`` (their rows, in id order, so two processes never lock
    in opposite orders) and return the ids of the sessions still open (not ended or failed,
    their learner active), read in the same statement. One statement for any number."""
    quote = connection.ops.quote_name
    ids = sorted({session.pk for session in sessions})
    learner = TutorSession._meta.get_field("learner").column
    sql = (
        f"SELECT s.id, s.status, u.is_active FROM {quote(TutorSession._meta.db_table)} s "
        f"JOIN {quote(User._meta.db_table)} u ON u.id = s.{quote(learner)} "
        f"WHERE s.id IN ({', '.join(['%s'] * len(ids))}) ORDER BY u.id"
    )
    if connection.features.has_select_for_update_of:  # SQLite: one writer at a time anyway
        sql += " FOR UPDATE OF u"
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        rows = cursor.fetchall()
    return {pk for pk, status, active in rows if active and status not in CLOSED_STATUSES}


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


# The batch's rows as one JSON parameter (one quoted literal, not a dozen placeholders a row
# for the client-side binding to split and quote): (name, PostgreSQL type) of each key.
_BATCH_COLUMNS = (
    ("n", "integer"), ("learner", "bigint"), ("session_id", "bigint"), ("item_id", "text"),
    ("role", "text"), ("kind", "text"), ("text", "text"), ("raw", "jsonb"), ("order", "integer"),
    ("verified", "boolean"), ("size", "integer"),
)


def _batch_rows_sql(conn) -> str:
    """A SELECT of the batch's rows from the one JSON parameter, in this database's words."""
    quote = conn.ops.quote_name
    if conn.vendor == "postgresql":
        columns = ", ".join(f"{quote(name)} {kind}" for name, kind in _BATCH_COLUMNS)
        return f"SELECT * FROM json_to_recordset(%s::json) AS rows ({columns})"
    columns = ", ".join(f"json_extract(value, '$.{name}') AS {quote(name)}" for name, _ in _BATCH_COLUMNS)
    return f"SELECT {columns} FROM json_each(%s)"


def _new_items_insert(batch: list[dict[str, Any]]) -> dict[int, ConversationItem]:
    """The new items of ``batch`` in one statement: a multi-row ``INSERT … SELECT … WHERE
    <under every cap> ON CONFLICT DO NOTHING RETURNING``. Which were inserted, by their
    index in ``batch``; the caller takes every other one through the general path, which
    tells a resend, a later version and a refusal apart. Run with the learners' rows locked.

    The caps are checked conservatively: each row counts every row before it in the batch of
    its session (and of its learner) as if it were new, on top of what is saved, so a row
    goes in only if it would also go in were the batch saved one item at a time. A resend
    counted that way may keep a later item out of this statement; the general path then
    counts exactly and saves it. An item id twice in a batch goes in once here, at its
    first place; the later copies take the general path, as they would one at a time."""
    conn = connections[DEFAULT_DB_ALIAS]  # not the proxy: it looks the connection up on every use
    now = clock.now()
    seen: set[tuple[int, str]] = set()
    rows: list[tuple[int, ConversationItem]] = []
    values: list[dict[str, Any]] = []
    for n, fields in enumerate(batch):
        session = fields["session"]
        key = (session.pk, fields["item_id"])
        if key in seen:
            continue
        seen.add(key)
        size = item_size(fields["text"], fields["raw"])
        item = ConversationItem(
            session=session, item_id=fields["item_id"], role=fields["role"], kind=fields["kind"],
            text=fields["text"], raw=fields["raw"], order=fields["order"], verified=fields["verified"],
            size=size, created_at=now, updated_at=now,
        )
        rows.append((n, item))
        values.append({
            "n": n, "learner": session.learner_id, "session_id": session.pk, "item_id": item.item_id,
            "role": item.role, "kind": item.kind, "text": item.text, "raw": item.raw,
            "order": item.order, "verified": item.verified, "size": size,
        })
    if not rows:
        return {}
    quote = conn.ops.quote_name
    items, sessions = quote(ConversationItem._meta.db_table), quote(TutorSession._meta.db_table)
    order = quote("order")
    stamp = conn.ops.adapt_datetimefield_value(now)
    sql = (
        f"WITH batch AS ({_batch_rows_sql(conn)}), "
        "counted AS (SELECT batch.*, "
        "ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY n) AS session_items, "
        "SUM(size) OVER (PARTITION BY session_id ORDER BY n) AS session_bytes, "
        "ROW_NUMBER() OVER (PARTITION BY learner ORDER BY n) AS day_items, "
        "SUM(size) OVER (PARTITION BY learner ORDER BY n) AS day_bytes FROM batch), "
        "in_session AS (SELECT session_id, COUNT(*) AS items, COALESCE(SUM(size), 0) AS bytes "
        f"FROM {items} WHERE session_id IN (SELECT session_id FROM batch) GROUP BY session_id), "
        "in_day AS (SELECT s.learner_id AS learner, COUNT(*) AS items, COALESCE(SUM(i.size), 0) AS bytes "
        f"FROM {items} i JOIN {sessions} s ON s.id = i.session_id "
        "WHERE s.learner_id IN (SELECT learner FROM batch) AND i.created_at >= %s GROUP BY s.learner_id) "
        f"INSERT INTO {items} (session_id, item_id, role, kind, text, raw, {order}, verified, size, "
        "created_at, updated_at, flagged, flag_reason) "
        f"SELECT c.session_id, c.item_id, c.role, c.kind, c.text, c.raw, c.{order}, c.verified, c.size, "
        "%s, %s, %s, %s FROM counted c "
        "LEFT JOIN in_session ts ON ts.session_id = c.session_id "
        "LEFT JOIN in_day td ON td.learner = c.learner "
        "WHERE COALESCE(ts.items, 0) + c.session_items <= %s "
        "AND (c.size = 0 OR COALESCE(ts.bytes, 0) + c.session_bytes <= %s) "
        "AND COALESCE(td.items, 0) + c.day_items <= %s "
        "AND (c.size = 0 OR COALESCE(td.bytes, 0) + c.day_bytes <= %s) "
        "ON CONFLICT (session_id, item_id) DO NOTHING RETURNING id, session_id, item_id"
    )
    params = [
        _ENCODER.encode(values),
        conn.ops.adapt_datetimefield_value(day_start(now)),
        stamp, stamp, False, "",
        settings.TUTOR_MAX_ITEMS_PER_SESSION, settings.TUTOR_MAX_ITEM_BYTES_PER_SESSION,
        settings.TUTOR_MAX_ITEMS_PER_LEARNER_DAY, settings.TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY,
    ]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = {(session_id, item_id): pk for pk, session_id, item_id in cursor.fetchall()}
    saved: dict[int, ConversationItem] = {}
    for n, item in rows:
        pk = inserted.get((item.session_id, item.item_id))
        if pk is not None:
            item.pk = pk
            item._state.adding = False
            saved[n] = item
    return saved


@transaction.atomic
def _item_save_fast(*, open_only: bool = False, **fields) -> tuple[ConversationItem, str]:
    """Two statements for a new item (the learner's row locked and the session's state read,
    the insert); anything else (a resend, a later version, a refusal) takes
    ``_item_save_once`` in the same transaction. ``SessionEnded`` if ``open_only`` and the
    session is closed."""
    session = fields["session"]
    if session.pk not in _sessions_lock([session]) and open_only:
        raise SessionEnded(session.pk)
    if fields["order"] is not None:
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
    open_only: bool = False,
) -> tuple[ConversationItem, str]:
    """Save one item, once per (session, item id): returns it and created/updated/unchanged.

    Two writers send items: the page, and the server's own sideband on the call
    (``verified``), whichever comes first. A resend with the same content changes nothing;
    new text or raw data updates the item; an empty text never replaces a saved one; nothing
    the page sends replaces an item the sideband saw, and nothing replaces an item the
    guardrail flagged (the evidence staff review). Role and kind are kept from the first
    save, unless the sideband's copy says otherwise; an ``order`` of None keeps the saved
    one. ``ItemRefused`` when the item would pass
    a storage cap; with ``open_only``, ``SessionEnded`` when the session has ended or its
    learner was deactivated (read with the learner's row locked, in the same statement).
    Two writers racing on the same new item both succeed: the loser's insert hits the unique
    constraint and it updates the winner's row instead.
    """
    fields = dict(
        session=session, item_id=item_id, role=role, kind=kind, text=text, raw=raw or {},
        order=order, verified=verified,
    )
    if open_only:
        save = functools.partial(_item_save_fast, open_only=True)
    else:
        # The sideband's saves (no order: placed after what is saved) take the general path.
        save = _item_save_fast if order is not None else _item_save_once
    try:
        return save(**fields)
    except IntegrityError:
        return save(**fields)


# --- Group commit: the items that arrive together in a process, in one transaction ---------

MAX_BATCH = 100
MAX_IN_FLIGHT = 1  # batches saved at once per process: 4 measured worse (docs/benchmarks.md)


def _batch_save(batch: list[dict[str, Any]]) -> list[tuple[ConversationItem, str] | Exception]:
    """Save every item of ``batch`` in one transaction: the outcome of each, in order.

    Two statements in the common case, whatever the batch's size: the learners' rows are
    locked (in id order, so two processes never lock in opposite orders) and the open sessions
    read in one, then every new item goes in with one multi-row insert. Each item that did
    not (a resend, a later version, one near a cap) takes the general path, in the same
    transaction. An item refused (a cap, or ``open_only`` on a closed session) has that as its
    outcome; any other failure raises and nothing of the batch is saved."""
    with transaction.atomic():
        open_ids = _sessions_lock([fields["session"] for fields in batch])
        outcomes: list[tuple[ConversationItem, str] | Exception | None] = [None] * len(batch)
        insertable: list[int] = []
        for n, fields in enumerate(batch):
            if fields["open_only"] and fields["session"].pk not in open_ids:
                outcomes[n] = SessionEnded(fields["session"].pk)
            elif fields["order"] is not None:  # an unplaced item (none of the page's) is placed there
                insertable.append(n)
        inserted = _new_items_insert([batch[n] for n in insertable]) if insertable else {}
        for n, item in inserted.items():
            outcomes[insertable[n]] = (item, CREATED)
        for n, fields in enumerate(batch):
            if outcomes[n] is not None:
                continue
            fields = {name: value for name, value in fields.items() if name != "open_only"}
            try:
                outcomes[n] = _item_save_once(**fields)  # its own savepoint
            except ItemRefused as refused:
                outcomes[n] = refused
        return outcomes


def items_save(batch: list[dict[str, Any]]) -> list[Any]:
    """``conversation_item_save`` for each of ``batch`` (its keyword arguments), in one
    transaction when it can be; each outcome (an exception for an item that failed: ``ItemRefused``
    past a cap, ``SessionEnded`` for an ``open_only`` item of a closed session), in order.

    A batch that fails is saved again one item at a time, so one bad item never blocks the
    others; a lost database connection is retried (``db_retrying``) and then raised for all."""
    defaults = {"order": 0, "verified": False, "open_only": False}
    batch = [{**defaults, **fields, "raw": fields.get("raw") or {}} for fields in batch]
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
                outcomes = await database_sync_to_async(connection_released(items_save), thread_sensitive=False)(
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


def connection_released(func: Callable[..., T]) -> Callable[..., T]:
    """``func``, then its thread's database connection given back (to the pool) if it is due.

    For work on a worker thread of its own (``thread_sensitive=False``): Channels' wrapper does
    the same, except under its test communicator, which turns it off (``channels.testing``),
    so every test's worker threads kept a pooled connection until the pool ran dry."""

    def run(*args, **kwargs) -> T:
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return run


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
