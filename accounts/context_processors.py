"""``voice_notice`` on every page: why the signed-in learner cannot start voice practice, or
None. Read only by the templates that show it (the tutor page, the dashboard)."""

from __future__ import annotations

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
