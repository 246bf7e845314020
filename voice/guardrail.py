"""Output guardrail: the tutor's words are checked against the operator's policy.

Two checks: a list of blocked terms (``GUARDRAIL_BLOCKED_TERMS``, matched as whole words or
phrases, ignoring case and accents), and, when ``GUARDRAIL_MODERATION`` is on and an OpenAI
key is set, OpenAI's moderation endpoint called from the server. The page sends the tutor's
transcript while it streams, so a tripped check cancels the reply mid-sentence; the saved
item is flagged for staff either way.

Moderation fails closed: an upstream error (429, 5xx, a timeout, a malformed answer) trips
the check, the learner sees a neutral message and the flag reason tells staff why. It is also
bounded, since each check is a request with the server's key: at most
``GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET`` a minute from one socket (``CheckWindow``) and
``GUARDRAIL_CHECKS_PER_MINUTE_PER_LEARNER`` from all of a learner's sockets in every process
(counted in the "limits" cache). A check over a limit makes no upstream call: the blocked
terms still apply, and the verdict says ``limited`` so the caller can answer for it.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections import deque
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches

from common import clock
from common.text import text_normalise
from tutor.models import ConversationItem, TutorSession
from voice import realtime

logger = logging.getLogger(__name__)

WITHHELD = "The tutor's reply was stopped by the safety filter."
# When the reply could not be checked: neutral for the learner; the flag reason says why.
UNCHECKED = "The tutor's reply was held back because it could not be checked."
LIMIT_WINDOW_S = 60.0


@dataclass(frozen=True)
class Verdict:
    tripped: bool
    reason: str = ""
    limited: bool = False  # moderation was not asked: a check limit was reached

    @property
    def message(self) -> str:
        """What the learner is told when the check tripped."""
        return UNCHECKED if self.reason.startswith(("moderation unavailable", "moderation skipped")) else WITHHELD


PASS = Verdict(False)


class CheckWindow:
    """One socket's moderation requests in the last minute (a socket lives in one process)."""

    def __init__(self, clock_s=time.monotonic) -> None:
        self._clock_s = clock_s
        self._times: deque[float] = deque()

    def take(self) -> bool:
        """Count one request if the socket is under its limit; False if it is not."""
        now = self._clock_s()
        while self._times and self._times[0] <= now - LIMIT_WINDOW_S:
            self._times.popleft()
        if len(self._times) >= settings.GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET:
            return False
        self._times.append(now)
        return True


def learner_check_take(learner_id: int) -> bool:
    """Count one moderation request for the learner this minute; False past the limit.

    A fixed one-minute window in the shared "limits" cache (atomic increments), so every
    process counts the same learner together."""
    counters = caches["limits"]
    key = f"guardrail-checks:{learner_id}:{int(clock.now().timestamp() // LIMIT_WINDOW_S)}"
    counters.add(key, 0, timeout=int(LIMIT_WINDOW_S * 2))
    try:
        count = counters.incr(key)
    except ValueError:  # expired between add and incr
        counters.add(key, 1, timeout=int(LIMIT_WINDOW_S * 2))
        count = 1
    return count <= settings.GUARDRAIL_CHECKS_PER_MINUTE_PER_LEARNER


@functools.lru_cache(maxsize=8)
def _pattern(terms: tuple[str, ...]) -> re.Pattern | None:
    folded = sorted({text_normalise(term) for term in terms if text_normalise(term)}, key=len, reverse=True)
    if not folded:
        return None
    alternatives = "|".join(r"\s+".join(map(re.escape, term.split())) for term in folded)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def terms_check(text: str, terms: list[str] | tuple[str, ...] | None = None) -> Verdict:
    """Does ``text`` contain a blocked term? Pure and fast: runs on every streamed chunk."""
    pattern = _pattern(tuple(settings.GUARDRAIL_BLOCKED_TERMS if terms is None else terms))
    if pattern is None or not text:
        return PASS
    match = pattern.search(text_normalise(text))
    return Verdict(True, f"blocked term: {match.group(0)}") if match else PASS


def moderation_on() -> bool:
    return bool(settings.GUARDRAIL_MODERATION and settings.OPENAI_API_KEY)


async def output_check(
    text: str, *, learner_id: int | None = None, window: CheckWindow | None = None
) -> Verdict:
    """The whole policy: blocked terms, then moderation when it is configured.

    With ``window`` (a socket's) and ``learner_id``, moderation is asked only while both are
    under their limits; past one, the verdict is the terms check's with ``limited`` set."""
    verdict = terms_check(text)
    if verdict.tripped or not moderation_on():
        return verdict
    if (window is not None and not window.take()) or (
        learner_id is not None and not await _learner_check_take(learner_id)
    ):
        logger.info("Moderation check over the limit for learner %s", learner_id)
        return Verdict(False, "moderation skipped: check limit reached", limited=True)
    try:
        categories = await realtime.moderation_check(
            text=text, base_url=settings.OPENAI_BASE_URL, api_key=settings.OPENAI_API_KEY
        )
    except realtime.RealtimeError as error:
        # Fail closed: a reply nobody could check is not shown. Staff see why.
        logger.warning("Moderation check failed: %s", error.code)
        return Verdict(True, f"moderation unavailable: {error.code}")
    return Verdict(True, "moderation: " + ", ".join(categories)) if categories else PASS


async def reply_check(text: str, *, learner_id: int) -> Verdict:
    """The check of a saved reply: as ``output_check``, and a reply that could not be
    moderated because the learner is over the limit is held back (fails closed)."""
    verdict = await output_check(text, learner_id=learner_id)
    return Verdict(True, verdict.reason) if verdict.limited else verdict


async def _learner_check_take(learner_id: int) -> bool:
    return await sync_to_async(learner_check_take, thread_sensitive=False)(learner_id)


def item_flag(*, session: TutorSession, item_id: str, reason: str) -> bool:
    """Mark a saved item as flagged for staff; False if the item is not saved yet."""
    updated = ConversationItem.objects.filter(session=session, item_id=item_id).update(
        flagged=True, flag_reason=reason[:200]
    )
    return bool(updated)
