"""The conversation socket when the server creates the calls (REALTIME_CALL_SETUP=server): the
page's call report changes nothing, and names only the call the server recorded."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from tests.voice.test_conversation_consumer import ask, open_socket, session_cookie
from tutor.models import TutorSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server_calls(settings):
    settings.REALTIME_CALL_SETUP = "server"


@pytest.fixture
def live_session(alice):
    return TutorSession.objects.create(
        learner=alice, model="gpt-realtime", voice="marin", instructions="", status="live",
        call_id="rtc_server_made", connected_at=timezone.now(), keys_unreported=0,
        hangup_at=timezone.now() + dt.timedelta(minutes=10),
    )


async def test_the_recorded_call_is_acknowledged_and_nothing_changes(server_calls, live_session, alice):
    before = await TutorSession.objects.aget(pk=live_session.pk)
    async with open_socket(live_session.pk, await sync_to_async(session_cookie)(alice)) as communicator:
        reply = await ask(communicator, {"type": "call", "call_id": "rtc_server_made"})

    assert reply["type"] == "call_ack" and reply["call_id"] == "rtc_server_made"
    assert reply["hangup_at"] == int(before.hangup_at.timestamp())
    assert 590 <= reply["seconds_left"] <= 600
    after = await TutorSession.objects.aget(pk=live_session.pk)
    assert (after.call_id, after.keys_unreported, after.connected_at, after.hangup_at) == (
        before.call_id, before.keys_unreported, before.connected_at, before.hangup_at,
    )


@pytest.mark.parametrize("call_id", ["rtc_false_0", "rtc_someone_elses"])
async def test_any_other_call_id_is_refused_and_changes_nothing(server_calls, live_session, alice, bob, call_id):
    await TutorSession.objects.acreate(
        learner=bob, model="m", voice="v", instructions="", status="live", call_id="rtc_someone_elses"
    )
    async with open_socket(live_session.pk, await sync_to_async(session_cookie)(alice)) as communicator:
        reply = await ask(communicator, {"type": "call", "call_id": call_id})

    assert (reply["type"], reply["code"]) == ("error", "call_mismatch")
    after = await TutorSession.objects.aget(pk=live_session.pk)
    assert (after.call_id, after.keys_unreported) == ("rtc_server_made", 0)


async def test_a_session_without_a_server_call_accepts_no_report(server_calls, alice):
    session = await TutorSession.objects.acreate(
        learner=alice, model="m", voice="v", instructions="", keys_unreported=1
    )
    async with open_socket(session.pk, await sync_to_async(session_cookie)(alice)) as communicator:
        reply = await ask(communicator, {"type": "call", "call_id": "rtc_made_up"})

    assert reply["code"] == "call_mismatch"
    session = await TutorSession.objects.aget(pk=session.pk)
    # The page cannot settle the mint by naming a call: only the server's own call does.
    assert (session.call_id, session.keys_unreported, session.status) == ("", 1, "minted")


async def test_a_server_created_call_that_replaces_one_tells_every_page_which_page_it_went_on_in(
    server_calls, live_session, alice, settings
):
    import httpx
    import respx

    from voice import calls

    settings.REALTIME_BASE_URL = ""
    settings.STANDIN_API_KEY = "sk-standin-test"
    await TutorSession.objects.filter(pk=live_session.pk).aupdate(upstream_base_url="http://testserver/standin/v1")
    with respx.mock(assert_all_called=False) as router:
        hangup = router.post("http://testserver/standin/v1/realtime/calls/rtc_server_made/hangup").mock(
            return_value=httpx.Response(200)
        )
        async with open_socket(live_session.pk, await sync_to_async(session_cookie)(alice)) as page_socket:
            session = await TutorSession.objects.aget(pk=live_session.pk)
            await calls.call_report(
                session=session, call_id="rtc_server_new", reporter="", page="page-2", settles_key=False
            )
            moved = await page_socket.receive_json_from(timeout=2)
        for _ in range(50):
            if hangup.called:
                break
            await asyncio.sleep(0.02)

    # Each page hears it; the page that asked for the new call (page-2) knows itself and stays.
    assert moved == {"type": "moved", "message": "This session went on in another window.", "page": "page-2"}
    assert hangup.called
    session = await TutorSession.objects.aget(pk=live_session.pk)
    assert (session.call_id, session.keys_unreported) == ("rtc_server_new", 0)
