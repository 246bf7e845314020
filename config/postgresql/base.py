"""Django's PostgreSQL backend, with the pool's borrow check of ``config.db_pool``.

Django gives its pool psycopg_pool's ``check_connection`` (an empty query per borrow) when
``CONN_HEALTH_CHECKS`` is on, and no way to pass another check (``OPTIONS["pool"]["check"]``
collides with its own argument), so the check is swapped once the pool exists.
"""

from __future__ import annotations

from django.db.backends.postgresql import base

from config.db_pool import connection_check


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None and pool._check is not None and pool._check is not connection_check:
            pool._check = connection_check
        return pool
