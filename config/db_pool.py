"""How the PostgreSQL pool checks a connection before lending it: by looking, not asking.

psycopg_pool's own ``check_connection`` sends an empty query on every borrow: a round trip
per request, and per socket message that reads the database. An idle connection that is still
good has nothing to read; one that PostgreSQL closed (a restart, a failover, an idle timeout)
has its end of file, or the server's last message, waiting on its socket. So a socket with
nothing to read is lent at once, and only one with something waiting gets the real check,
which fails for a closed connection and makes the pool open another.
"""

from __future__ import annotations

import select


def connection_check(conn) -> None:
    """Raise if ``conn`` is unusable; return at once if its socket has nothing waiting."""
    from psycopg_pool import ConnectionPool

    if conn.closed or conn.broken:
        ConnectionPool.check_connection(conn)  # raises for a closed connection
        return
    try:
        waiting, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError):
        waiting = True
    if waiting:
        ConnectionPool.check_connection(conn)
