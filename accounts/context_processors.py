"""Template variables of the account policy (``accounts.adapter``).

- ``voice_notice``: why the signed-in learner cannot start voice practice, or None; read only
  by the templates that show it (the tutor page, the dashboard).
- ``signup_open``: whether to offer the sign-up page (``SIGNUP_MODE``).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.adapter import voice_blocked_reason


def voice_notice(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"voice_notice": None}
    return {"voice_notice": SimpleLazyObject(lambda: _notice(user))}


def _notice(user) -> dict:
    reason = voice_blocked_reason(user)
    if reason is not None:
        return {"reason": reason, "verify": True}
    if user.daily_voice_minutes == 0:
        return {"reason": "Voice practice is not turned on for your account. Please ask your teacher.", "verify": False}
    return {}


def signup_open(request) -> dict:
    return {"signup_open": settings.SIGNUP_MODE == "open"}
