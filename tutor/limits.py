"""How much a learner may use the voice tutor, checked when the server mints a key.

Three limits, all counted from the database so they hold across server processes:

- **Mint rate**: at most ``TUTOR_MINTS_PER_MINUTE`` keys (new sessions and resumes alike) in
  any 60 seconds, counted from ``MintEvent`` rows. Refused with 429.
- **Live sessions**: at most ``TUTOR_MAX_LIVE_SESSIONS`` sessions open at once. A session is
  live until it ends, with two ways out so that a page that crashed never locks its learner
  out for good: a session that never connected stops counting when its key expires, and one
  that connected stops counting at its hang-up time. A resume of a session is not a new one.
  Refused with 403.
- **Daily minutes**: the learner's ``daily_voice_minutes``, counted from the time each session
  was connected today (a session still open counts up to now). Refused with 403.

When a call starts, ``call_deadline`` gives the moment the server hangs it up: when the day's
minutes run out or the session reaches ``TUTOR_MAX_SESSION_MINUTES``, whichever comes first.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from tutor.conversations import CLOSED_STATUSES, tutor_session_create
from tutor.models import MintEvent, TutorSession

RATE_WINDOW = dt.timedelta(seconds=60)
MINT_EVENTS_KEPT = dt.timedelta(days=1)
TIME_LIMIT = "time_limit"


class LimitReached(Exception):
    """A key may not be minted now; ``message`` is for the learner, ``status`` for the answer."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


# --- Time ---------------------------------------------------------------------------------


def max_session_length() -> dt.timedelta:
    return dt.timedelta(minutes=settings.TUTOR_MAX_SESSION_MINUTES)


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight of ``now``'s day in the server's time zone (``TIME_ZONE``)."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def session_cutoff(session: TutorSession) -> dt.datetime | None:
    """The latest moment ``session`` may run until: its hang-up time, else its maximum length."""
    if session.hangup_at is not None:
        return session.hangup_at
    if session.connected_at is not None:
        return session.connected_at + max_session_length()
    return None


def session_is_live(session: TutorSession, *, now: dt.datetime) -> bool:
    """Whether ``session`` counts as open: not ended, and neither its key nor its time ran out."""
    if session.status in CLOSED_STATUSES:
        return False
    if session.connected_at is None:
        return session.minted_at + dt.timedelta(seconds=settings.REALTIME_TOKEN_TTL_SECONDS) > now
    return session_cutoff(session) > now


def session_seconds_between(session: TutorSession, start: dt.datetime, now: dt.datetime) -> float:
    """Seconds ``session`` was connected between ``start`` and ``now`` (never past its cutoff)."""
    if session.connected_at is None:
        return 0.0
    finish = min(session.ended_at or now, now)
    cutoff = session_cutoff(session)
    if cutoff is not None:
        finish = min(finish, cutoff)
    begin = max(session.connected_at, start)
    return max(0.0, (finish - begin).total_seconds())


# --- Selectors ----------------------------------------------------------------------------


def voice_seconds_used(*, learner, now: dt.datetime) -> float:
    """Seconds of voice sessions ``learner`` had today, up to ``now``."""
    start = day_start(now)
    sessions = TutorSession.objects.filter(
        learner=learner, connected_at__isnull=False, connected_at__lt=now
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start))
    return sum(session_seconds_between(session, start, now) for session in sessions)


def voice_seconds_left(*, learner, now: dt.datetime) -> float:
    """Seconds of today's allowance ``learner`` has left (zero or more)."""
    allowed = learner.daily_voice_minutes * 60
    return max(0.0, allowed - voice_seconds_used(learner=learner, now=now))


def live_sessions(*, learner, now: dt.datetime, exclude: TutorSession | None = None) -> list[TutorSession]:
    candidates = TutorSession.objects.filter(learner=learner).exclude(status__in=CLOSED_STATUSES)
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude.pk)
    return [session for session in candidates if session_is_live(session, now=now)]


def minutes_text(minutes: float) -> str:
    return f"{minutes:g} minute" + ("" if minutes == 1 else "s")


def daily_limit_message(learner) -> str:
    if learner.daily_voice_minutes == 0:
        return "Voice practice is not turned on for your account. Please ask your teacher."
    return f"You have used today's {minutes_text(learner.daily_voice_minutes)}."


def limit_message(*, session: TutorSession) -> str:
    """Why ``session`` was hung up: its maximum length, or the learner's day."""
    length_cap = (
        session.connected_at + max_session_length() if session.connected_at is not None else None
    )
    if (
        session.hangup_at is not None
        and length_cap is not None
        and session.hangup_at >= length_cap - dt.timedelta(seconds=1)
        and voice_seconds_left(learner=session.learner, now=session.hangup_at) > 1
    ):
        return f"This session reached its {settings.TUTOR_MAX_SESSION_MINUTES:g}-minute limit."
    return daily_limit_message(session.learner)


# --- Checks -------------------------------------------------------------------------------


def mint_allowed(*, learner, now: dt.datetime, session: TutorSession | None = None) -> None:
    """Raise ``LimitReached`` unless ``learner`` may have a key now (``session``: a resume)."""
    recent = MintEvent.objects.filter(learner=learner, created_at__gt=now - RATE_WINDOW).count()
    if recent >= settings.TUTOR_MINTS_PER_MINUTE:
        raise LimitReached(
            "You are starting sessions too quickly. Please wait a minute and try again.",
            429,
            "rate_limited",
        )
    if session is not None and session.hangup_at is not None and session.hangup_at <= now:
        raise LimitReached(limit_message(session=session), 403, TIME_LIMIT)
    if voice_seconds_left(learner=learner, now=now) <= 0:
        raise LimitReached(daily_limit_message(learner), 403, "minutes_used")
    if session is None:
        allowed = settings.TUTOR_MAX_LIVE_SESSIONS
        if len(live_sessions(learner=learner, now=now)) >= allowed:
            already = "a session" if allowed == 1 else f"{allowed} sessions"
            raise LimitReached(
                f"You already have {already} open. End it in its page, or wait a minute, "
                "before starting another.",
                403,
                "session_live",
            )


@transaction.atomic
def mint_reserve(
    *,
    learner,
    now: dt.datetime,
    upstream_base_url: str,
    session: TutorSession | None = None,
    new_session: dict | None = None,
) -> TutorSession:
    """Check the limits and record the mint: the session to mint for, created if new.

    The learner's row is locked for the check and the write, so two requests at once (in
    any processes) cannot both take the last mint or the last live slot. ``new_session``
    holds ``tutor_session_create``'s fields when ``session`` is None.
    """
    learner = User.objects.select_for_update().get(pk=learner.pk)
    if session is not None:
        session = TutorSession.objects.get(pk=session.pk)
    mint_allowed(learner=learner, now=now, session=session)
    if session is None:
        session = tutor_session_create(learner=learner, **(new_session or {}))
        session.minted_at = now
    session.upstream_base_url = upstream_base_url[:255]
    session.save(update_fields=["minted_at", "upstream_base_url"])
    MintEvent.objects.filter(learner=learner, created_at__lt=now - MINT_EVENTS_KEPT).delete()
    MintEvent.objects.create(learner=learner, session=session, created_at=now)
    return session


def call_deadline(*, session: TutorSession, now: dt.datetime) -> dt.datetime:
    """When the server hangs up ``session``'s call: the day's minutes or the length cap."""
    left = voice_seconds_left(learner=session.learner, now=now)
    deadline = now + dt.timedelta(seconds=left)
    started = session.connected_at or now
    return min(deadline, started + max_session_length())
