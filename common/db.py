"""Database helpers for the hot paths (a key mint, an item save): fewer round trips, and no
ORM compiling per call.

``pipelined`` sends the statements run inside it together and waits once, at its end
(PostgreSQL's pipeline mode, psycopg 3): a transaction's ``BEGIN``, a row lock and a read
that must see what the lock's previous holder committed cost one round trip instead of three.
The server still runs them one after another, each with its own snapshot, so the read starts
only once the lock is granted. On SQLite it does nothing: a statement there is a function
call, and its write transactions (``transaction_mode: IMMEDIATE``) already run one at a time.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from django.db import connection


@functools.cache
def _has_pipeline() -> bool:
    """Whether this psycopg's libpq has pipeline mode (14 and newer; the binary wheel's has)."""
    import psycopg

    return psycopg.capabilities.has_pipeline()


@contextlib.contextmanager
def pipelined() -> Iterator[None]:
    """Statements executed inside go out together; read their results after the block (a
    fetch inside it waits for the answers so far, costing a round trip of its own)."""
    if connection.vendor != "postgresql" or not _has_pipeline():
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield


def row_lock(model, pk: int, *, wait: bool = True) -> None:
    """Lock ``model``'s row ``pk`` until the transaction ends, in one statement of its own.

    A read in the locking statement itself would see the rows as they were before the lock was
    granted (PostgreSQL's READ COMMITTED takes a statement's snapshot when it starts), so the
    reads that must see what the lock's previous holder committed come after it. Returns once
    the lock is held, so a clock read after it counts the time waited; with ``wait`` False (in
    ``pipelined``) at once, the statement going out with what follows it. On SQLite a plain read:
    its write transactions (``transaction_mode: IMMEDIATE``) already run one at a time.
    """
    table, column = model._meta.db_table, model._meta.pk.column
    quote = connection.ops.quote_name
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE {quote(column)} = %s{lock}", [pk])
        if wait:
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


@functools.cache
def _loaders(model, columns: tuple[str, ...], vendor: str) -> tuple[list[str], list[tuple]]:
    by_column = {field.column: field for field in model._meta.concrete_fields}
    fields = [by_column[column] for column in columns]
    loaders = []
    for field in fields:
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        loaders.append((column, tuple(converters)))
    return [field.attname for field in fields], loaders


def rows_as_instances(model, columns: list[str], rows) -> list:
    """``model`` instances from raw rows whose ``columns`` are all of its columns, converted as
    the ORM converts what it reads (JSON, dates); a row whose primary key is NULL (the empty
    side of an outer join) is skipped. What a ``RawQuerySet`` makes, without its per-query
    set-up."""
    attnames, loaders = _loaders(model, tuple(columns), connection.vendor)
    pk_index = attnames.index(model._meta.pk.attname)
    instances = []
    for row in rows:
        if row[pk_index] is None:
            continue
        values = []
        for value, (column, converters) in zip(row, loaders, strict=True):
            for converter in converters:
                value = converter(value, column, connection)
            values.append(value)
        instances.append(model.from_db(connection.alias, attnames, values))
    return instances


@functools.cache
def _select_sql(model, vendor: str) -> tuple[str, tuple[str, ...]]:
    quote = connection.ops.quote_name
    columns = tuple(field.column for field in model._meta.concrete_fields)
    return f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(model._meta.db_table)}", columns


def rows_read(model, where: str, params: list) -> list:
    """``model``'s rows ``WHERE where`` (SQL with ``%s`` for ``params``), as instances: what
    ``model.objects.filter(...)`` reads, without compiling a query (a quarter of a
    millisecond each time, on reads every request makes)."""
    select, columns = _select_sql(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"{select} WHERE {where}", params)
        rows = cursor.fetchall()
    return rows_as_instances(model, list(columns), rows)
