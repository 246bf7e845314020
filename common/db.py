"""Database helpers for the hot paths (a key mint, an item save): no ORM compiling per call."""

from __future__ import annotations

import functools

from django.db import connection


def row_lock(model, pk: int) -> None:
    """Lock ``model``'s row ``pk`` until the transaction ends, in one statement of its own.

    A read in the locking statement itself would see the rows as they were before the lock was
    granted (PostgreSQL's READ COMMITTED takes a statement's snapshot when it starts), so the
    reads that must see what the lock's previous holder committed come after it. Returns once
    the lock is held, so a clock read after it counts the time waited. On SQLite a plain read:
    its write transactions (``transaction_mode: IMMEDIATE``) already run one at a time.
    """
    table, column = model._meta.db_table, model._meta.pk.column
    quote = connection.ops.quote_name
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE {quote(column)} = %s{lock}", [pk])
        cursor.fetchone()


@functools.cache
def _insert_sql(model, vendor: str) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(model._meta.pk.column)}"
    )
    return sql, fields


def row_insert(instance) -> None:
    """``instance.save()`` for a new row without the ORM's compiling: one ``INSERT …
    RETURNING`` of every column (defaults and ``auto_now_add`` filled as ``save`` fills them),
    the new id set on ``instance``. No save signals are sent: for models nothing listens to."""
    model = type(instance)
    sql, fields = _insert_sql(model, connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias
