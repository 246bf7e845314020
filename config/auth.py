"""The two reads every signed-in request makes, the session and the user, without compiling a
query each time: Django's own session store and authentication backends, with their one
lookup each written as plain SQL (``common.db.rows_read``), the same rows and the same checks.

Measured on a key mint: the session read 0.36 -> 0.09 ms, the user read 0.36 -> 0.1 ms.
"""

from __future__ import annotations

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

from common.db import rows_read


class SessionStore(db.SessionStore):
    """``django.contrib.sessions.backends.db``, reading its row in plain SQL."""

    def _get_session_from_db(self):
        quote = connection.ops.quote_name
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        found = rows_read(
            self.model, f"{quote('session_key')} = %s AND {quote('expire_date')} > %s", [self.session_key, now]
        )
        if not found:
            self._session_key = None
            return None
        return found[0]


class _UserRead:
    def get_user(self, user_id):
        from django.contrib.auth import get_user_model

        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except Exception:  # noqa: BLE001 (a session holding a malformed id is nobody's)
            return None
        found = rows_read(model, f"{connection.ops.quote_name(model._meta.pk.column)} = %s", [pk])
        if not found:
            return None
        user = found[0]
        return user if self.user_can_authenticate(user) else None


class ModelBackend(_UserRead, DjangoModelBackend):
    """Django's ``ModelBackend``, reading the signed-in user in plain SQL."""


class AuthenticationBackend(_UserRead, AllauthBackend):
    """allauth's backend (sign-in by email), reading the signed-in user in plain SQL."""
