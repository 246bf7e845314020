"""The server's hang-up at the time limit, on a controlled clock: no real waiting."""

import asyncio
import datetime as dt

import httpx
import pytest
from channels.layers import get_channel_layer

from common import clock
from voice import hangups, sessions
from tutor.models import TutorSession

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)
STANDIN = "http://127.0.0.1:8000/standin/v1"


class FakeClock:
    """``common.clock.now`` that only moves when the code under test sleeps."""

    def __init__(self, start: dt.datetime) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> dt.datetime:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += dt.timedelta(seconds=seconds)


class Upstream:
    """The Realtime API behind ``httpx.MockTransport``: records hang-ups."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={} if self.status == 200 else {"error": {"code": "call_not_found"}})

    @property
    def hung_up(self) -> list[str]:
        return [request.url.path for request in self.requests]


@pytest.fixture
def fake_clock(monkeypatch):
    fake = FakeClock(T0)
    monkeypatch.setattr(clock, "now", fake.now)
    return fake


@pytest.fixture
def upstream(settings):
    settings.REALTIME_BASE_URL = ""
    settings.REALTIME_STANDIN = True
    settings.STANDIN_API_KEY = "sk-standin-test"
    settings.TUTOR_MAX_SESSION_MINUTES = 30
    return Upstream()


@pytest.fixture
def live_session(alice):
    alice.daily_voice_minutes = 120
    alice.save()
    return TutorSession.objects.create(
        learner=alice, model="gpt-realtime", voice="marin", instructions="", minted_at=T0,
        upstream_base_url=STANDIN,
    )


async def start_call(session, call_id="rtc_first", now=T0):
    from channels.db import database_sync_to_async

    started, _replaced = await database_sync_to_async(sessions.session_call_start)(
        session=session, call_id=call_id, now=now
    )
    return started


async def test_starting_a_call_records_its_deadline(live_session, upstream):
    started = await start_call(live_session)
    assert (started.status, started.call_id, started.connected_at) == ("live", "rtc_first", T0)
    assert started.hangup_at == T0 + 30 * MIN


async def test_a_new_call_names_the_call_it_replaces_once(live_session, upstream):
    from channels.db import database_sync_to_async

    start = database_sync_to_async(sessions.session_call_start)
    assert (await start(session=live_session, call_id="rtc_first", now=T0))[1] == ""
    assert (await start(session=live_session, call_id="rtc_second", now=T0 + MIN))[1] == "rtc_first"
    # The page's outbox may report the same call twice: nothing more to hang up.
    assert (await start(session=live_session, call_id="rtc_second", now=T0 + MIN))[1] == ""


async def test_hanging_up_a_replaced_call_names_that_call(live_session, upstream):
    await start_call(live_session, call_id="rtc_second")
    assert await hangups.call_hang_up(live_session, call_id="rtc_first", transport=upstream.transport)
    [request] = upstream.requests
    assert request.url.path.endswith("/realtime/calls/rtc_first/hangup")


async def test_at_the_deadline_it_hangs_up_the_call_with_the_server_key(live_session, upstream, fake_clock):
    await start_call(live_session)

    hung_up = await hangups.hangup_when_due(
        session_id=live_session.pk, sleep=fake_clock.sleep, transport=upstream.transport
    )

    assert hung_up is True
    assert fake_clock.time == T0 + 30 * MIN
    assert all(seconds <= hangups.MAX_SLEEP_SECONDS for seconds in fake_clock.sleeps)
    [request] = upstream.requests
    assert request.method == "POST"
    assert str(request.url) == f"{STANDIN}/realtime/calls/rtc_first/hangup"
    assert request.headers["authorization"] == "Bearer sk-standin-test"
    await live_session.arefresh_from_db()
    assert (live_session.status, live_session.end_reason) == ("ended", "time_limit")
    assert live_session.ended_at == T0 + 30 * MIN


async def test_it_hangs_up_the_latest_call_after_a_resume(live_session, upstream, fake_clock):
    await start_call(live_session, "rtc_first")
    later = T0 + 10 * MIN

    async def sleep(seconds):
        await fake_clock.sleep(seconds)
        if fake_clock.time >= later and live_session.call_id != "rtc_second":
            # The call dropped and the page resumed with a new one.
            live_session.call_id = "rtc_second"
            await start_call(live_session, "rtc_second", now=fake_clock.time)

    await hangups.hangup_when_due(session_id=live_session.pk, sleep=sleep, transport=upstream.transport)

    assert upstream.hung_up == ["/standin/v1/realtime/calls/rtc_second/hangup"]
    assert fake_clock.time == T0 + 30 * MIN  # the deadline counts from the first connection


async def test_a_session_ended_by_the_learner_is_not_hung_up(live_session, upstream, fake_clock):
    await start_call(live_session)

    async def sleep(seconds):
        await fake_clock.sleep(seconds)
        await TutorSession.objects.filter(pk=live_session.pk).aupdate(status="ended", end_reason="user")

    assert await hangups.hangup_when_due(session_id=live_session.pk, sleep=sleep, transport=upstream.transport) is False
    assert upstream.requests == []
    await live_session.arefresh_from_db()
    assert live_session.end_reason == "user"


async def test_the_page_is_told_through_the_sessions_group(live_session, upstream, fake_clock):
    await start_call(live_session)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(hangups.session_group(live_session.pk), channel)

    await hangups.hangup_when_due(session_id=live_session.pk, sleep=fake_clock.sleep, transport=upstream.transport)

    message = await asyncio.wait_for(layer.receive(channel), 5)
    assert message == {"type": "session.time_up", "message": "This session reached its 30-minute limit."}


async def test_a_failed_hangup_is_logged_and_the_session_still_ends(live_session, settings, fake_clock, caplog):
    settings.REALTIME_BASE_URL = ""
    settings.REALTIME_STANDIN = True
    settings.STANDIN_API_KEY = "sk-standin-test"
    gone = Upstream(status=404)
    await start_call(live_session)

    assert await hangups.hangup_when_due(
        session_id=live_session.pk, sleep=fake_clock.sleep, transport=gone.transport
    ) is True

    assert len(gone.requests) == 1
    assert "Could not hang up the call of session" in caplog.text
    assert "sk-standin-test" not in caplog.text
    await live_session.arefresh_from_db()
    assert live_session.status == "ended"


async def test_a_session_from_an_unknown_upstream_is_ended_without_sending_the_key(live_session, upstream, fake_clock):
    live_session.upstream_base_url = "https://evil.example/v1"
    await live_session.asave()
    await start_call(live_session)

    assert await hangups.hangup_when_due(
        session_id=live_session.pk, sleep=fake_clock.sleep, transport=upstream.transport
    ) is True
    assert upstream.requests == []


async def test_the_sweep_ends_every_overdue_session(alice, bob, upstream):
    def make(learner, call_id, hangup_at, status="live"):
        return TutorSession.objects.acreate(
            learner=learner, status=status, model="m", voice="v", instructions="", call_id=call_id,
            connected_at=T0 - 40 * MIN, hangup_at=hangup_at, upstream_base_url=STANDIN,
        )

    overdue = await make(alice, "rtc_a", T0 - MIN)
    also_overdue = await make(bob, "rtc_b", T0)
    not_yet = await make(alice, "rtc_c", T0 + MIN)
    already_ended = await make(bob, "rtc_d", T0 - MIN, status="ended")

    ended = await hangups.overdue_sessions_end(now=T0, transport=upstream.transport)

    assert ended == [overdue.pk, also_overdue.pk]
    assert sorted(upstream.hung_up) == [
        "/standin/v1/realtime/calls/rtc_a/hangup", "/standin/v1/realtime/calls/rtc_b/hangup"
    ]
    statuses = {s.pk: s.status async for s in TutorSession.objects.all()}
    assert statuses == {overdue.pk: "ended", also_overdue.pk: "ended", not_yet.pk: "live", already_ended.pk: "ended"}
    assert await hangups.overdue_sessions_end(now=T0, transport=upstream.transport) == []


async def test_scheduling_runs_on_the_loop_and_can_be_cancelled(live_session, upstream):
    await start_call(live_session)
    task = hangups.hangup_schedule(live_session.pk)
    assert hangups.hangups_scheduled() == {live_session.pk: task}

    again = hangups.hangup_schedule(live_session.pk)  # a resume reschedules
    await asyncio.sleep(0)
    assert task.cancelled() or task.done()
    hangups.hangup_cancel(live_session.pk)
    await asyncio.sleep(0)
    assert again.cancelled()
    assert hangups.hangups_scheduled() == {}
