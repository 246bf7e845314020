"""How much a learner may use the voice tutor, checked when the server mints a key.

Three limits, all counted from the database so they hold across server processes:

- **Mint rate**: at most ``TUTOR_MINTS_PER_MINUTE`` keys (new sessions and resumes alike) in
  any 60 seconds, counted from ``MintEvent`` rows. Refused with 429.
- **Live sessions**: at most ``TUTOR_MAX_LIVE_SESSIONS`` sessions open at once. A resume of a
  session is not a new one. Refused with 403.
- **Daily minutes**: the learner's ``daily_voice_minutes``. Refused with 403.

A session counts from the moment its first key is minted until it ends, and never past its
hang-up time (``hangup_at``): the day's minutes left or ``TUTOR_MAX_SESSION_MINUTES``,
whichever comes first, fixed at the first mint and moved when the page reports its call.

The page talks to the Realtime API directly, so the server learns a call's id only when the
page reports it, and can hang up only the calls it knows. Each key minted for a session is
therefore owed a reported call (``keys_unreported``). While a key is owed, the session counts
as live and uses minutes up to its hang-up time, even if the page says it has ended: a page
that never reports its call pays for the longest call it could have had. An honest page
reports its call as soon as the Realtime API answers, so it pays only for the time it used.
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

    def __init__(self, message: str, status: int, code: str, session_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        # The learner's open session, which the page may offer to continue instead.
        self.session_id = session_id


# --- Time ---------------------------------------------------------------------------------


def max_session_length() -> dt.timedelta:
    return dt.timedelta(minutes=settings.TUTOR_MAX_SESSION_MINUTES)


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight of ``now``'s day in the server's time zone (``TIME_ZONE``)."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def session_cutoff(session: TutorSession) -> dt.datetime:
    """The latest moment ``session`` may run until: its hang-up time, else its maximum length."""
    if session.hangup_at is not None:
        return session.hangup_at
    return session.minted_at + max_session_length()


def session_is_charged(session: TutorSession) -> bool:
    """Whether ``session`` costs time at all: it had a call, or a key whose call went unreported."""
    return session.connected_at is not None or session.keys_unreported > 0


def session_charge_end(session: TutorSession, now: dt.datetime) -> dt.datetime:
    """When ``session`` stops counting: its end, or now while open, never past its cutoff.

    A session with a key whose call the page never reported counts to its cutoff even after
    it ends: the server cannot hang up a call it does not know, so it charges the time that
    call may have taken.
    """
    cutoff = session_cutoff(session)
    if session.keys_unreported > 0:
        return cutoff
    if session.status in CLOSED_STATUSES and session.ended_at is not None:
        return min(session.ended_at, cutoff)
    return min(now, cutoff)


def session_is_live(session: TutorSession, *, now: dt.datetime) -> bool:
    """Whether ``session`` takes a live slot: it is charged and still counting at ``now``.

    A page that crashed never locks its learner out for good: a session stops counting at
    its cutoff whether or not anyone ended it.
    """
    if not session_is_charged(session):
        return False
    if session.status in CLOSED_STATUSES and session.keys_unreported == 0:
        return False
    return session_cutoff(session) > now


def session_seconds_between(session: TutorSession, start: dt.datetime, now: dt.datetime) -> float:
    """Seconds ``session`` counted between ``start`` and ``now``, from its first key's mint."""
    if not session_is_charged(session):
        return 0.0
    finish = min(session_charge_end(session, now), now)
    begin = max(session.minted_at, start)
    return max(0.0, (finish - begin).total_seconds())


# --- Selectors ----------------------------------------------------------------------------


def _charged(queryset):
    return queryset.filter(Q(connected_at__isnull=False) | Q(keys_unreported__gt=0))


def limit_sessions(*, learner, now: dt.datetime) -> list[TutorSession]:
    """In one query, the learner's sessions that may count today or hold a live slot."""
    start = day_start(now)
    owed = Q(keys_unreported__gt=0) & (Q(hangup_at__gt=start) | Q(hangup_at__isnull=True))
    return list(
        _charged(TutorSession.objects.filter(learner=learner, minted_at__lt=now)).filter(
            Q(ended_at__isnull=True) | Q(ended_at__gt=start) | ~Q(status__in=CLOSED_STATUSES) | owed
        )
    )


def seconds_used(sessions: list[TutorSession], *, now: dt.datetime) -> float:
    """Seconds ``sessions`` counted today, up to ``now``."""
    start = day_start(now)
    return sum(session_seconds_between(session, start, now) for session in sessions)


def voice_seconds_used(*, learner, now: dt.datetime) -> float:
    """Seconds of voice sessions ``learner`` had today, up to ``now``."""
    return seconds_used(limit_sessions(learner=learner, now=now), now=now)


def seconds_left(learner, sessions: list[TutorSession], *, now: dt.datetime) -> float:
    """Seconds of today's allowance ``learner`` has left after ``sessions`` (zero or more)."""
    return max(0.0, learner.daily_voice_minutes * 60 - seconds_used(sessions, now=now))


def voice_seconds_left(*, learner, now: dt.datetime) -> float:
    """Seconds of today's allowance ``learner`` has left (zero or more)."""
    return seconds_left(learner, limit_sessions(learner=learner, now=now), now=now)


def live_sessions(*, learner, now: dt.datetime, exclude: TutorSession | None = None) -> list[TutorSession]:
    return [
        session
        for session in limit_sessions(learner=learner, now=now)
        if session_is_live(session, now=now) and (exclude is None or session.pk != exclude.pk)
    ]


def minutes_text(minutes: float) -> str:
    return f"{minutes:g} minute" + ("" if minutes == 1 else "s")


def daily_limit_message(learner) -> str:
    if learner.daily_voice_minutes == 0:
        return "Voice practice is not turned on for your account. Please ask your teacher."
    return f"You have used today's {minutes_text(learner.daily_voice_minutes)}."


def limit_message(*, session: TutorSession) -> str:
    """Why ``session`` was hung up: its maximum length, or the learner's day."""
    length_cap = session.minted_at + max_session_length()
    if (
        session.hangup_at is not None
        and session.hangup_at >= length_cap - dt.timedelta(seconds=1)
        and voice_seconds_left(learner=session.learner, now=session.hangup_at) > 1
    ):
        return f"This session reached its {settings.TUTOR_MAX_SESSION_MINUTES:g}-minute limit."
    return daily_limit_message(session.learner)


# --- Checks -------------------------------------------------------------------------------


def live_limit_message(open_sessions: list[TutorSession], *, now: dt.datetime) -> str:
    allowed = settings.TUTOR_MAX_LIVE_SESSIONS
    if all(session.status in CLOSED_STATUSES for session in open_sessions):
        # Ended, but a key's call was never reported: it counts until its time is up.
        until = min(session_cutoff(session) for session in open_sessions)
        minutes = max(1, round((until - now).total_seconds() / 60))
        return (
            "Your last session never told Parlance that its call started, so it counts as "
            f"running for {minutes_text(minutes)} more."
        )
    already = "a session" if allowed == 1 else f"{allowed} sessions"
    return (
        f"You already have {already} open. End it in its page before starting another, "
        "or continue it here."
    )


def mint_allowed(*, learner, now: dt.datetime, session: TutorSession | None = None) -> float:
    """Raise ``LimitReached`` unless ``learner`` may have a key now (``session``: a resume);
    the seconds of today's allowance left."""
    recent = MintEvent.objects.filter(learner=learner, created_at__gt=now - RATE_WINDOW).count()
    if recent >= settings.TUTOR_MINTS_PER_MINUTE:
        raise LimitReached(
            "You are starting sessions too quickly. Please wait a minute and try again.",
            429,
            "rate_limited",
        )
    if session is not None and session.hangup_at is not None and session.hangup_at <= now:
        raise LimitReached(limit_message(session=session), 403, TIME_LIMIT)
    sessions = limit_sessions(learner=learner, now=now)
    left = seconds_left(learner, sessions, now=now)
    if left <= 0:
        raise LimitReached(daily_limit_message(learner), 403, "minutes_used")
    if session is None:
        open_sessions = [candidate for candidate in sessions if session_is_live(candidate, now=now)]
        if len(open_sessions) >= settings.TUTOR_MAX_LIVE_SESSIONS:
            still_open = [s for s in open_sessions if s.status not in CLOSED_STATUSES]
            raise LimitReached(
                live_limit_message(open_sessions, now=now),
                403,
                "session_live",
                session_id=max(still_open, key=lambda s: s.minted_at).pk if still_open else None,
            )
    return left


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

    The key counts as unreported until the page reports its call (``session_call_start``).
    A new session gets its hang-up time now, so a call the page never reports is charged
    up to it: the day's minutes or the maximum length, whichever comes first.
    """
    learner = User.objects.select_for_update().get(pk=learner.pk)
    if session is not None:
        session = TutorSession.objects.select_for_update().get(pk=session.pk)
    left = mint_allowed(learner=learner, now=now, session=session)
    if session is None:
        session = tutor_session_create(
            learner=learner,
            **(new_session or {}),
            minted_at=now,
            hangup_at=deadline(minted_at=now, now=now, seconds_left=left),
            upstream_base_url=upstream_base_url[:255],
            keys_unreported=1,
        )
    else:
        if session.hangup_at is None:
            session.hangup_at = deadline(minted_at=session.minted_at, now=now, seconds_left=left)
        session.upstream_base_url = upstream_base_url[:255]
        session.keys_unreported += 1
        session.save(update_fields=["upstream_base_url", "hangup_at", "keys_unreported"])
    MintEvent.objects.create(learner=learner, session=session, created_at=now)
    return session


def mint_events_prune(*, now: dt.datetime) -> int:
    """Forget mints older than the rate limit could ever look at; how many were deleted.
    Run by the sweep of overdue sessions, not on every mint."""
    deleted, _ = MintEvent.objects.filter(created_at__lt=now - MINT_EVENTS_KEPT).delete()
    return deleted


@transaction.atomic
def mint_release(*, session: TutorSession) -> None:
    """The key reserved for ``session`` was never issued (the upstream refused): it is not owed."""
    locked = TutorSession.objects.select_for_update().get(pk=session.pk)
    if locked.keys_unreported > 0:
        locked.keys_unreported -= 1
        locked.save(update_fields=["keys_unreported"])


def deadline(*, minted_at: dt.datetime, now: dt.datetime, seconds_left: float) -> dt.datetime:
    """When a session first minted at ``minted_at`` must end: when the ``seconds_left`` of the
    day run out, or at its maximum length, whichever comes first."""
    return min(now + dt.timedelta(seconds=seconds_left), minted_at + max_session_length())


def call_deadline(*, session: TutorSession, now: dt.datetime) -> dt.datetime:
    """When the server hangs up ``session``'s call: the day's minutes or the length cap."""
    left = voice_seconds_left(learner=session.learner, now=now)
    return deadline(minted_at=session.minted_at, now=now, seconds_left=left)
