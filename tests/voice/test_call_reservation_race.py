"""Thirty requests at once to spend one mint on a server-created call: exactly one may create
it, on SQLite and on PostgreSQL (each thread has its own connection, as processes would)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from tutor.models import MintEvent, TutorSession
from voice.sessions import NoReservation, call_reservation_claim

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 30


def test_one_mint_is_claimed_once_however_many_ask_at_once(alice):
    session = TutorSession.objects.create(
        learner=alice, model="m", voice="v", instructions="", keys_unreported=1
    )
    MintEvent.objects.create(learner=alice, session=session, created_at=timezone.now())
    start = threading.Barrier(PARALLEL)

    def claim(_):
        start.wait()
        try:
            call_reservation_claim(session=session, ttl_seconds=20)
            return "claimed"
        except NoReservation:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        outcomes = list(pool.map(claim, range(PARALLEL)))

    assert sorted(outcomes) == ["claimed"] + ["refused"] * (PARALLEL - 1)
    assert TutorSession.objects.get(pk=session.pk).keys_unreported == 0
