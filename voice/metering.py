"""Pure charging maths: when a session counts, until when, and for how many seconds.

No queries here: every function takes the sessions it reasons about. A session counts from the
moment its first key is minted until it ends, and never past its hang-up time (``hangup_at``):
the day's minutes left or ``TUTOR_MAX_SESSION_MINUTES``, whichever comes first. While a key
minted for it is owed a reported call (``keys_unreported``), it counts up to that hang-up time
even after it ends: the server cannot hang up a call it does not know.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from tutor.models import TutorSession

CLOSED_STATUSES = frozenset({TutorSession.Status.ENDED, TutorSession.Status.FAILED})


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


def deadline(*, minted_at: dt.datetime, now: dt.datetime, seconds_left: float) -> dt.datetime:
    """When a session first minted at ``minted_at`` must end: when the ``seconds_left`` of the
    day run out, or at its maximum length, whichever comes first."""
    return min(now + dt.timedelta(seconds=seconds_left), minted_at + max_session_length())
