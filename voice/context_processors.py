"""Template variables of the voice limits (``voice.limits``), for pages outside ``voice``.

- ``voice_minutes_notice``: when the signed-in learner has used today's voice minutes, the
  message the key endpoint would refuse with, so the dashboard says so before Start and the
  microphone prompt; empty otherwise. Computed only when a template reads it. (A learner
  with no voice minutes at all is told by ``accounts.context_processors.voice_notice``.)
"""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from common import clock
from voice.limits import daily_limit_message, voice_seconds_left

# Less than this is not enough for a conversation: say so now rather than after Start.
MIN_USEFUL_SECONDS = 30


def voice_minutes(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"voice_minutes_notice": ""}
    return {"voice_minutes_notice": SimpleLazyObject(lambda: _notice(user))}


def _notice(user) -> str:
    if user.daily_voice_minutes == 0:
        return ""
    if voice_seconds_left(learner=user, now=clock.now()) >= MIN_USEFUL_SECONDS:
        return ""
    return f"{daily_limit_message(user)} Voice practice opens again tomorrow; flashcards and tests are open now."
