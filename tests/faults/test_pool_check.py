"""The pool lends a live idle connection without a round trip, and never a closed one."""

from __future__ import annotations

import select

import psycopg
import pytest
from django.conf import settings

from config.db_pool import connection_check

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), reason="PostgreSQL's pool"
)


def _connect():
    database = settings.DATABASES["default"]
    return psycopg.connect(
        host=database["HOST"] or "127.0.0.1", port=database["PORT"] or 5432, user=database["USER"],
        dbname="postgres", autocommit=True,
    )


def test_a_live_idle_connection_is_lent_without_a_query(monkeypatch):
    from psycopg_pool import ConnectionPool

    asked = []
    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(asked.append))
    with _connect() as conn:
        conn.execute("SELECT 1").fetchone()
        connection_check(conn)
    assert asked == []


def test_a_connection_the_server_closed_is_refused():
    with _connect() as victim, _connect() as admin:
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        # The server's notice and end of file reach the idle socket.
        for _ in range(50):
            if select.select([victim.pgconn.socket], [], [], 0.1)[0]:
                break
        with pytest.raises(psycopg.OperationalError):
            connection_check(victim)


@pytest.mark.django_db(transaction=True)
def test_the_pool_borrows_with_this_check(monkeypatch):
    from django.db import connection
    from psycopg_pool import ConnectionPool

    assert connection.pool._check is connection_check
    asked = []
    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(asked.append))
    connection.close()  # back to the pool; the next query borrows again
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert asked == []
