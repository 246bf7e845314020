"""Which process holds a call's sideband: claims, renewals, take-overs, and races between holders."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tutor.models import CallLease, TutorSession
from voice import leases

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.timezone.utc)
SEC = dt.timedelta(seconds=1)


@pytest.fixture(autouse=True)
def lease_settings(settings):
    settings.SIDEBAND_LEASE_SECONDS = 10


def offered(alice, n=1, status="live"):
    for i in range(n):
        session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="", status=status, call_id=f"rtc_{status}_{i}")
        leases.lease_offer(session_id=session.pk, call_id=session.call_id, now=NOW)


def test_an_offered_call_is_claimed_once_and_renewed_by_its_holder(alice):
    offered(alice)
    leases.lease_offer(session_id=CallLease.objects.get().session_id, call_id="rtc_live_0", now=NOW)  # resent
    claims = leases.leases_claim(holder="a", now=NOW)
    assert [claim.call_id for claim in claims] == ["rtc_live_0"]
    assert leases.leases_claim(holder="b", now=NOW + 5 * SEC) == []
    assert leases.leases_renew(holder="a", lease_ids=[claims[0].lease_id], now=NOW + 8 * SEC) == {claims[0].lease_id}
    assert leases.leases_claim(holder="b", now=NOW + 15 * SEC) == []  # renewed until NOW + 18 s


def test_a_holder_that_stops_renewing_loses_the_call_to_another(alice):
    offered(alice)
    (claim,) = leases.leases_claim(holder="a", now=NOW)
    taken = leases.leases_claim(holder="b", now=NOW + 11 * SEC)
    assert [c.lease_id for c in taken] == [claim.lease_id]
    assert leases.leases_renew(holder="a", lease_ids=[claim.lease_id], now=NOW + 12 * SEC) == set()
    assert CallLease.objects.get().holder == "b"


def test_a_taken_over_call_counts_as_joined_only_once_its_new_holder_joins(alice):
    offered(alice)
    (claim,) = leases.leases_claim(holder="a", now=NOW)
    leases.lease_joined(lease_id=claim.lease_id, holder="a", now=NOW + SEC)
    leases.leases_claim(holder="b", now=NOW + 11 * SEC)
    assert CallLease.objects.get().joined_at is None  # b holds it but has not joined yet
    leases.lease_joined(lease_id=claim.lease_id, holder="a", now=NOW + 12 * SEC)  # the old holder: ignored
    assert CallLease.objects.get().joined_at is None
    leases.lease_joined(lease_id=claim.lease_id, holder="b", now=NOW + 12 * SEC)
    assert CallLease.objects.get().joined_at == NOW + 12 * SEC


def test_ended_calls_and_closed_sessions_are_not_claimed(alice):
    offered(alice, status="ended")
    offered(alice)
    (claim,) = leases.leases_claim(holder="a", now=NOW)
    leases.lease_end(lease_id=claim.lease_id, now=NOW)
    assert leases.leases_claim(holder="b", now=NOW + 60 * SEC) == []


def test_processes_claiming_at_once_never_hold_the_same_call(alice):
    offered(alice, n=12)
    start = threading.Barrier(4)

    def claim(holder):
        start.wait()
        try:
            return [c.lease_id for c in leases.leases_claim(holder=holder, now=NOW, limit=5)]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(claim, ["a", "b", "c", "d"]))
    claimed = [lease for result in results for lease in result]
    assert len(claimed) == len(set(claimed)) == 12
    holders = dict(CallLease.objects.values_list("pk", "holder"))
    for holder, result in zip("abcd", results):
        assert all(holders[lease] == holder for lease in result)


def test_a_process_claims_only_calls_on_the_upstreams_it_may_watch(alice):
    for port in (8001, 8002):
        session = TutorSession.objects.create(
            learner=alice, model="m", voice="v", instructions="", status="live", call_id=f"rtc_{port}",
            upstream_base_url=f"http://127.0.0.1:{port}/standin/v1",
        )
        leases.lease_offer(session_id=session.pk, call_id=session.call_id, now=NOW)
    mine = leases.leases_claim(holder="a", now=NOW, upstreams=frozenset({"http://127.0.0.1:8001/standin/v1"}))
    assert [claim.call_id for claim in mine] == ["rtc_8001"]
    assert leases.leases_claim(holder="b", now=NOW, upstreams=frozenset()) == []
    assert [claim.call_id for claim in leases.leases_claim(holder="worker", now=NOW)] == ["rtc_8002"]


def test_a_web_process_on_the_standin_watches_only_the_standins_it_minted_at(settings, rf):
    from voice import realtime

    settings.REALTIME_BASE_URL = ""
    request = rf.post("/tutor/token/")
    request.scope = {"server": ("127.0.0.1", 8123)}
    base_url = realtime.upstream_for(request).base_url
    assert base_url in realtime.upstreams_watchable_here()
    settings.REALTIME_BASE_URL = "https://api.openai.com/v1"
    assert realtime.upstreams_watchable_here() is None
