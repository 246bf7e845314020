"""Thirty mints at once for one fresh learner give one session, on SQLite and on PostgreSQL.

Each thread has its own database connection, as two server processes would. The limits hold
because ``mint_reserve`` locks the learner's row (``BEGIN IMMEDIATE`` on SQLite) and reads the
clock only once it holds the lock, and because every open session counts, however recently
it was minted.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tutor.models import MintEvent, TutorSession
from voice.limits import LimitReached
from voice.sessions import mint_reserve

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 30
NEW = {"model": "gpt-realtime", "voice": "marin", "instructions": "Hi", "focus_words": []}


def _race(learner, count: int) -> list:
    start = threading.Barrier(PARALLEL)

    def mint(_):
        start.wait()
        try:
            return mint_reserve(learner=learner, upstream_base_url="https://api.example.test/v1", new_session=NEW)
        except LimitReached as refused:
            return refused.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(mint, range(count)))


def test_thirty_parallel_mints_make_one_session(alice, settings):
    settings.TUTOR_MINTS_PER_MINUTE = PARALLEL  # only the one-open-session cap stands in the way
    settings.TUTOR_MAX_LIVE_SESSIONS = 1
    outcomes = _race(alice, PARALLEL)

    sessions = [outcome for outcome in outcomes if isinstance(outcome, TutorSession)]
    assert len(sessions) == 1
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["session_live"] * (PARALLEL - 1)
    assert TutorSession.objects.filter(learner=alice).count() == 1
    assert not MintEvent.objects.filter(learner=alice).exists()  # a new session counts itself


def test_thirty_parallel_mints_take_no_more_than_the_rate_allows(alice, settings):
    settings.TUTOR_MINTS_PER_MINUTE = 5
    settings.TUTOR_MAX_LIVE_SESSIONS = PARALLEL  # only the rate limit stands in the way
    settings.TUTOR_MAX_SESSION_MINUTES = 1  # and the day's 20 minutes, shared a minute each
    outcomes = _race(alice, PARALLEL)

    assert sum(isinstance(outcome, TutorSession) for outcome in outcomes) == 5
    assert outcomes.count("rate_limited") == PARALLEL - 5
    assert TutorSession.objects.filter(learner=alice).count() == 5


def test_concurrent_sessions_share_the_days_minutes_under_a_race(alice, settings):
    """The issue's reproduction: each parallel session got its own full allowance (76 minutes
    granted against 20). Now the hang-up times granted add up to at most the day's minutes."""
    settings.TUTOR_MINTS_PER_MINUTE = PARALLEL
    settings.TUTOR_MAX_LIVE_SESSIONS = PARALLEL
    settings.TUTOR_MAX_SESSION_MINUTES = 8
    outcomes = _race(alice, PARALLEL)

    sessions = list(TutorSession.objects.filter(learner=alice))
    granted = sum((s.hangup_at - s.minted_at).total_seconds() for s in sessions)
    assert len(sessions) == 3  # 8 + 8 + 4 minutes
    assert granted <= alice.daily_voice_minutes * 60 + 1
    assert outcomes.count("minutes_used") == PARALLEL - 3


def test_a_mint_that_waited_for_the_lock_counts_from_when_it_got_it(alice):
    """The mint's clock is read before its lock goes out with the limits' read (one round
    trip); one that then waited for the lock reads them again at the time it got it."""
    import datetime as dt
    import time

    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from common.db import row_lock

    held, hold_s = threading.Event(), 0.3

    def hold() -> None:
        try:
            with transaction.atomic():
                row_lock(User, alice.pk)
                held.set()
                time.sleep(hold_s)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    asked_at = timezone.now()
    try:
        session = mint_reserve(learner=alice, upstream_base_url="https://api.example.test/v1", new_session=NEW)
    finally:
        holder.join()
    assert session.minted_at >= asked_at + dt.timedelta(seconds=hold_s * 0.8)
    assert session.hangup_at > session.minted_at
