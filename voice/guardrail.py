"""Output guardrail: the tutor's words are checked against the operator's policy.

Two checks: a list of blocked terms (``GUARDRAIL_BLOCKED_TERMS``, matched as whole words or
phrases, ignoring case and accents), and, when ``GUARDRAIL_MODERATION`` is on and an OpenAI
key is set, OpenAI's moderation endpoint called from the server. The page sends the tutor's
transcript while it streams, so a tripped check cancels the reply mid-sentence; the saved
item is flagged for staff either way.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass

from django.conf import settings

from common.text import text_normalise
from tutor.models import ConversationItem, TutorSession
from voice import realtime

logger = logging.getLogger(__name__)

WITHHELD = "The tutor's reply was stopped by the safety filter."


@dataclass(frozen=True)
class Verdict:
    tripped: bool
    reason: str = ""


PASS = Verdict(False)


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


async def output_check(text: str) -> Verdict:
    """The whole policy: blocked terms, then moderation when it is configured."""
    verdict = terms_check(text)
    if verdict.tripped or not (settings.GUARDRAIL_MODERATION and settings.OPENAI_API_KEY):
        return verdict
    try:
        categories = await realtime.moderation_check(
            text=text, base_url=settings.OPENAI_BASE_URL, api_key=settings.OPENAI_API_KEY
        )
    except realtime.RealtimeError as error:
        # Moderation being down must not silence the tutor; the terms check still ran.
        logger.warning("Moderation check failed: %s", error.code)
        return PASS
    return Verdict(True, "moderation: " + ", ".join(categories)) if categories else PASS


def item_flag(*, session: TutorSession, item_id: str, reason: str) -> bool:
    """Mark a saved item as flagged for staff; False if the item is not saved yet."""
    updated = ConversationItem.objects.filter(session=session, item_id=item_id).update(
        flagged=True, flag_reason=reason[:200]
    )
    return bool(updated)
