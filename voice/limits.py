"""How much a learner may use the voice tutor, checked when the server mints a key.

Three limits, all counted from the database so they hold across server processes:

- **Mint rate**: at most ``TUTOR_MINTS_PER_MINUTE`` keys (new sessions and resumes alike) in
  any 60 seconds, counted from new sessions' ``minted_at`` and the other keys' ``MintEvent``
  rows. Refused with 429.
- **Live sessions**: at most ``TUTOR_MAX_LIVE_SESSIONS`` sessions open at once. A resume of a
  session is not a new one. Refused with 403.
- **Daily minutes**: the learner's ``daily_voice_minutes``. Refused with 403.
- **Verified address**: with email verification on, a learner whose address is not verified
  yet (the rule of ``accounts.adapter.voice_blocked_reason``). Refused with 403, ``email_unverified``.

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

import contextlib
import datetime as dt
import functools
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import connection
from django.db.models import Q

from accounts.adapter import EMAIL_UNVERIFIED, EMAIL_UNVERIFIED_MESSAGE, verification_required
from accounts.models import User
from common.db import pipelined, row_lock, rows_as_instances
from tutor.models import MintEvent, TutorSession
from voice.metering import (
    CLOSED_STATUSES,
    day_start,
    deadline,
    max_session_length,
    session_cutoff,
    session_is_live,
    session_seconds_between,
)

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


# --- Selectors ----------------------------------------------------------------------------


def _charged(queryset):
    return queryset.filter(Q(connected_at__isnull=False) | Q(keys_unreported__gt=0))


def _limit_sessions_queryset(*, learner, start: dt.datetime, minted_after: dt.datetime):
    owed = Q(keys_unreported__gt=0) & (Q(hangup_at__gt=start) | Q(hangup_at__isnull=True))
    return _charged(TutorSession.objects.filter(learner=learner, minted_at__gt=minted_after)).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start) | ~Q(status__in=CLOSED_STATUSES) | owed
    )


def _limit_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The day's start, and the earliest a session that counts after it can have been minted.

    A session counts until its cutoff, and no cutoff is later than its first mint plus the
    longest session (``voice.metering.deadline``). A day is allowed at least, in case that
    length was lowered since: the learner's index on ``minted_at`` then reads a day or two of
    sessions, not every session they ever had."""
    start = day_start(now)
    return start, start - max(max_session_length(), dt.timedelta(days=1))


# Where the learner's id and the window go in the compiled SQL: values no row ever has.
_MARKS = {
    "learner": -7_346_129_001,
    "start": dt.datetime(1900, 1, 2, 3, 4, 5, 678_901, tzinfo=dt.UTC),
    "minted_after": dt.datetime(1900, 1, 3, 4, 5, 6, 789_012, tzinfo=dt.UTC),
}


@functools.cache
def _limit_sessions_sql(vendor: str) -> tuple[str, tuple]:
    """``_limit_sessions_queryset``'s SQL, compiled by the ORM once per process (compiling it
    took 0.45 ms of every mint), and its parameters, with the names of ``_MARKS`` where the
    learner and the window go."""
    sql, params = _limit_sessions_queryset(
        learner=_MARKS["learner"], start=_MARKS["start"], minted_after=_MARKS["minted_after"]
    ).order_by().query.sql_with_params()
    adapted = {
        name: mark if name == "learner" else connection.ops.adapt_datetimefield_value(mark)
        for name, mark in _MARKS.items()
    }
    by_value = {value: _Slot(name) for name, value in adapted.items()}
    slots = tuple(
        by_value.get(param, param) if isinstance(param, (int, str, dt.datetime)) else param for param in params
    )
    missing = set(_MARKS) - {slot.name for slot in slots if isinstance(slot, _Slot)}
    assert not missing, f"the marks {missing} must reach the SQL"
    return sql, slots


@dataclass(frozen=True)
class _Slot:
    name: str


def _limit_sessions_sql_with_params(*, learner_id: int, now: dt.datetime) -> tuple[str, list]:
    sql, slots = _limit_sessions_sql(connection.vendor)
    start, minted_after = _limit_window(now)
    values = {
        "learner": learner_id,
        "start": connection.ops.adapt_datetimefield_value(start),
        "minted_after": connection.ops.adapt_datetimefield_value(minted_after),
    }
    return sql, [values[slot.name] if isinstance(slot, _Slot) else slot for slot in slots]


def limit_sessions(*, learner, now: dt.datetime) -> list[TutorSession]:
    """In one query, the learner's sessions that may count today or hold a live slot."""
    start, minted_after = _limit_window(now)
    return list(_limit_sessions_queryset(learner=learner, start=start, minted_after=minted_after))


@dataclass(frozen=True)
class MintState:
    """What the limits need to know about a learner at a mint, read in one statement."""

    recent_mints: int  # keys minted in the last RATE_WINDOW
    unverified: bool  # an address allauth knows, none of them verified (when that is required)
    sessions: list[TutorSession]  # limit_sessions


def mint_state_read(*, learner, now: dt.datetime, lock: bool = False) -> MintState:
    """``MintState`` for ``learner`` in one statement (run it with the learner's row locked;
    ``lock``: lock it here first, the lock and the read in one round trip, ``common.db``).

    The mint rate counts new sessions by their ``minted_at`` and the other keys (resumes, and
    new sessions whose key was never issued) by their ``MintEvent``: a new session is its own
    record of its first key, so minting one writes one row.
    """
    quote = connection.ops.quote_name
    since = connection.ops.adapt_datetimefield_value(now - RATE_WINDOW)
    sessions_sql, sessions_params = _limit_sessions_sql_with_params(learner_id=learner.pk, now=now)
    mints, sessions = quote(MintEvent._meta.db_table), quote(TutorSession._meta.db_table)
    params: list = [learner.pk, since, learner.pk, since]
    unverified = "FALSE"
    if verification_required():
        addresses = quote(EmailAddress._meta.db_table)
        unverified = (
            f"EXISTS (SELECT 1 FROM {addresses} WHERE user_id = %s) AND NOT EXISTS "
            f"(SELECT 1 FROM {addresses} WHERE user_id = %s AND verified)"
        )
        params += [learner.pk, learner.pk]
    sql = (
        "SELECT state.recent_mints, state.unverified, counted.* FROM (SELECT "
        f"(SELECT COUNT(*) FROM {mints} WHERE learner_id = %s AND created_at > %s) + "
        f"(SELECT COUNT(*) FROM {sessions} WHERE learner_id = %s AND minted_at > %s) AS recent_mints, "
        f"{unverified} AS unverified) state "
        f"LEFT JOIN ({sessions_sql}) counted ON 1 = 1"
    )
    with connection.cursor() as cursor:
        with pipelined() if lock else contextlib.nullcontext():
            if lock:
                row_lock(User, learner.pk, wait=False)
            cursor.execute(sql, [*params, *sessions_params])
        rows = cursor.fetchall()
        columns = [column[0] for column in cursor.description][2:]
    return MintState(
        recent_mints=int(rows[0][0]),
        unverified=bool(rows[0][1]),
        sessions=rows_as_instances(TutorSession, columns, [row[2:] for row in rows]),
    )


def seconds_used(sessions: list[TutorSession], *, now: dt.datetime) -> float:
    """Seconds ``sessions`` counted today, up to ``now``."""
    start = day_start(now)
    return sum(session_seconds_between(session, start, now) for session in sessions)


def seconds_left(learner, sessions: list[TutorSession], *, now: dt.datetime) -> float:
    """Seconds of today's allowance ``learner`` has left after ``sessions`` (zero or more).

    ``shared_seconds_left`` also takes off what the other open sessions may still use."""
    left = learner.daily_voice_minutes * 60 - seconds_used(sessions, now=now)
    return max(0.0, left)


def shared_seconds_left(
    learner, sessions: list[TutorSession], *, now: dt.datetime, for_session: TutorSession | None
) -> float:
    """``seconds_left`` less what the learner's other open sessions may still use (up to their
    hang-up times): the time ``for_session`` (None: a new session) may have."""
    others = [
        session
        for session in open_sessions(sessions, now=now)
        if for_session is None or session.pk != for_session.pk
    ]
    reserved = sum(max(0.0, (session_cutoff(session) - now).total_seconds()) for session in others)
    return max(0.0, seconds_left(learner, sessions, now=now) - reserved)


def voice_seconds_left(*, learner, now: dt.datetime) -> float:
    """Seconds of today's allowance ``learner`` has left (zero or more)."""
    return seconds_left(learner, limit_sessions(learner=learner, now=now), now=now)


def open_sessions(sessions: list[TutorSession], *, now: dt.datetime) -> list[TutorSession]:
    """Those of ``sessions`` that hold a live slot at ``now``."""
    return [session for session in sessions if session_is_live(session, now=now)]


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


def mint_allowed(
    *, learner, now: dt.datetime, session: TutorSession | None = None, state: MintState | None = None
) -> float:
    """Raise ``LimitReached`` unless ``learner`` may have a key now (``session``: a resume);
    the seconds of today's allowance left. One statement (``mint_state_read``), none when the
    caller read ``state`` at ``now`` already."""
    state = state or mint_state_read(learner=learner, now=now)
    if state.unverified:
        raise LimitReached(EMAIL_UNVERIFIED_MESSAGE.format(email=learner.email), 403, EMAIL_UNVERIFIED)
    if state.recent_mints >= settings.TUTOR_MINTS_PER_MINUTE:
        raise LimitReached(
            "You are starting sessions too quickly. Please wait a minute and try again.",
            429,
            "rate_limited",
        )
    if session is not None and session.hangup_at is not None and session.hangup_at <= now:
        raise LimitReached(limit_message(session=session), 403, TIME_LIMIT)
    sessions = state.sessions
    if seconds_left(learner, sessions, now=now) <= 0:
        raise LimitReached(daily_limit_message(learner), 403, "minutes_used")
    if session is None:
        live = open_sessions(sessions, now=now)
        if len(live) >= settings.TUTOR_MAX_LIVE_SESSIONS:
            still_open = [s for s in live if s.status not in CLOSED_STATUSES]
            raise LimitReached(
                live_limit_message(live, now=now),
                403,
                "session_live",
                session_id=max(still_open, key=lambda s: s.minted_at).pk if still_open else None,
            )
    # Concurrent sessions share the day: what the others may still use is not this one's.
    # (Under a second is nothing: the sum of what was granted rounds to the day's minutes.)
    left = shared_seconds_left(learner, sessions, now=now, for_session=session)
    if left < 1:
        raise LimitReached(daily_limit_message(learner), 403, "minutes_used")
    return left


def mint_record(*, learner_id: int, session: TutorSession | None, now: dt.datetime) -> None:
    """Count one key minted for ``learner`` other than a new session's first (which its
    ``minted_at`` counts): a resume's, or a new session's that goes because its key was never
    issued (``session`` None)."""
    MintEvent.objects.create(learner_id=learner_id, session=session, created_at=now)


def mint_events_prune(*, now: dt.datetime) -> int:
    """Forget mints older than the rate limit could ever look at; how many were deleted.
    Run by the sweep of overdue sessions, not on every mint."""
    deleted, _ = MintEvent.objects.filter(created_at__lt=now - MINT_EVENTS_KEPT).delete()
    return deleted


def call_deadline(*, session: TutorSession, now: dt.datetime) -> dt.datetime:
    """When the server hangs up ``session``'s call: the day's minutes or the length cap."""
    sessions = limit_sessions(learner=session.learner, now=now)
    left = shared_seconds_left(session.learner, sessions, now=now, for_session=session)
    return deadline(minted_at=session.minted_at, now=now, seconds_left=left)
