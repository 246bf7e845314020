"""The usage ledger: tokens per session from each ``response.done``, and what they cost.

The page relays each response's ``usage`` (with the response id) over the conversation
socket; ``session_usage_add`` adds it to ``TutorSession.usage`` once per response id, so a
resend changes nothing. Staff read minutes, tokens and an estimated cost per learner per day
(``usage_by_learner_day``), priced by ``usage_cost`` from the ``REALTIME_PRICE_*`` settings.

``TutorSession.usage`` holds the sums of ``COUNTS`` plus ``responses`` (how many) and
``response_ids`` (which ones, for idempotency).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from tutor.models import TutorSession
from voice.metering import session_seconds_between

MAX_USAGE_BYTES = 4096
MAX_TOKENS = 10**9
MILLION = Decimal(1_000_000)

COUNTS = (
    "input_text_tokens",
    "input_audio_tokens",
    "input_cached_text_tokens",
    "input_cached_audio_tokens",
    "output_text_tokens",
    "output_audio_tokens",
)


# --- Normalising what the page relays -----------------------------------------------------


def _count(container: Any, name: str) -> int | None:
    if not isinstance(container, dict) or container.get(name) is None:
        return None
    value = container[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise ValueError(f"{name} must be a whole number from 0 to {MAX_TOKENS}")
    return value


def _details(usage: dict, name: str) -> dict:
    details = usage.get(name)
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise ValueError(f"{name} must be an object")
    return details


def usage_normalize(usage: Any) -> dict[str, int]:
    """``COUNTS`` from a Realtime ``response.usage`` object; ValueError if it is malformed.

    Follows OpenAI's shape: ``input_tokens``/``output_tokens`` with ``text_tokens`` and
    ``audio_tokens`` in ``input_token_details``/``output_token_details``, and the cached
    part of the input in ``cached_tokens`` (split in ``cached_tokens_details``). A missing
    text count is the total less the audio; cached tokens never exceed what they are part of.
    """
    if not isinstance(usage, dict):
        raise ValueError("must be an object")
    input_details = _details(usage, "input_token_details")
    output_details = _details(usage, "output_token_details")
    cached_details = _details(input_details, "cached_tokens_details")

    def split(total_name: str, details: dict) -> tuple[int, int]:
        total = _count(usage, total_name)
        audio = _count(details, "audio_tokens") or 0
        text = _count(details, "text_tokens")
        if text is None:
            text = max(0, (total or 0) - audio)
        return text, audio

    input_text, input_audio = split("input_tokens", input_details)
    output_text, output_audio = split("output_tokens", output_details)
    cached = _count(input_details, "cached_tokens") or 0
    cached_text = _count(cached_details, "text_tokens")
    cached_audio = _count(cached_details, "audio_tokens")
    if cached_text is None and cached_audio is None:
        cached_text = min(cached, input_text)
        cached_audio = min(cached - cached_text, input_audio)
    return {
        "input_text_tokens": input_text,
        "input_audio_tokens": input_audio,
        "input_cached_text_tokens": min(cached_text or 0, input_text),
        "input_cached_audio_tokens": min(cached_audio or 0, input_audio),
        "output_text_tokens": output_text,
        "output_audio_tokens": output_audio,
    }


# --- The ledger ---------------------------------------------------------------------------


# --- Cost ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens."""

    text_in: Decimal
    text_out: Decimal
    audio_in: Decimal
    audio_out: Decimal
    cached_in: Decimal


def prices_from_settings() -> Prices:
    def price(name: str) -> Decimal:
        return Decimal(str(getattr(settings, name)))

    return Prices(
        text_in=price("REALTIME_PRICE_TEXT_IN_PER_MTOK"),
        text_out=price("REALTIME_PRICE_TEXT_OUT_PER_MTOK"),
        audio_in=price("REALTIME_PRICE_AUDIO_IN_PER_MTOK"),
        audio_out=price("REALTIME_PRICE_AUDIO_OUT_PER_MTOK"),
        cached_in=price("REALTIME_PRICE_CACHED_IN_PER_MTOK"),
    )


def usage_cost(counts: dict[str, int], prices: Prices) -> Decimal:
    """Pure: the estimated cost in dollars of ``counts`` (``COUNTS`` keys) at ``prices``.

    Cached input is billed at the cached price instead of the full one.
    """

    def n(name: str) -> Decimal:
        return Decimal(int(counts.get(name) or 0))

    cached_text, cached_audio = n("input_cached_text_tokens"), n("input_cached_audio_tokens")
    total = (
        (n("input_text_tokens") - cached_text) * prices.text_in
        + (n("input_audio_tokens") - cached_audio) * prices.audio_in
        + (cached_text + cached_audio) * prices.cached_in
        + n("output_text_tokens") * prices.text_out
        + n("output_audio_tokens") * prices.audio_out
    )
    return total / MILLION


# --- Staff report -------------------------------------------------------------------------


@dataclass
class UsageRow:
    """One learner's voice use on one day."""

    day: dt.date
    learner_id: int
    learner_email: str
    sessions: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    cost: Decimal = Decimal(0)

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60, 1)

    @property
    def input_tokens(self) -> int:
        return self.counts["input_text_tokens"] + self.counts["input_audio_tokens"]

    @property
    def output_tokens(self) -> int:
        return self.counts["output_text_tokens"] + self.counts["output_audio_tokens"]


def usage_by_learner_day(
    *,
    start: dt.date,
    end: dt.date,
    now: dt.datetime,
    prices: Prices | None = None,
    learners: QuerySet | None = None,
) -> list[UsageRow]:
    """Sessions, minutes, tokens and estimated cost per learner per day, newest day first.

    A session belongs to the day (server time zone) it was started; its minutes are those the
    daily limit counts (``voice.metering.session_seconds_between``): from its first mint to its
    end, or to now while it is open, never past its hang-up time, and up to that time when a
    key's call was never reported. ``learners`` (a queryset of users) limits the rows to them.
    """
    prices = prices or prices_from_settings()
    tz = timezone.get_current_timezone()
    first = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    sessions = (
        TutorSession.objects.filter(minted_at__gte=first, minted_at__lt=after)
        .select_related("learner")
        .only(
            "learner__email", "minted_at", "connected_at", "ended_at", "hangup_at", "status",
            "keys_unreported", "usage",
        )
        .order_by("minted_at")
    )
    if learners is not None:
        sessions = sessions.filter(learner__in=learners.values("pk"))
    rows: dict[tuple[dt.date, int], UsageRow] = {}
    for session in sessions:
        day = timezone.localtime(session.minted_at).date()
        row = rows.get((day, session.learner_id))
        if row is None:
            row = rows[(day, session.learner_id)] = UsageRow(
                day=day, learner_id=session.learner_id, learner_email=session.learner.email
            )
        row.sessions += 1
        row.seconds += session_seconds_between(session, session.minted_at, now)
        ledger = session.usage or {}
        for name in COUNTS:
            row.counts[name] += int(ledger.get(name) or 0)
    for row in rows.values():
        row.cost = usage_cost(row.counts, prices)
    return sorted(rows.values(), key=lambda row: (-row.day.toordinal(), row.learner_email))


def usage_totals(rows: list[UsageRow]) -> UsageRow | None:
    if not rows:
        return None
    total = UsageRow(day=rows[0].day, learner_id=0, learner_email="")
    for row in rows:
        total.sessions += row.sessions
        total.seconds += row.seconds
        for name in COUNTS:
            total.counts[name] += row.counts[name]
        total.cost += row.cost
    return total
