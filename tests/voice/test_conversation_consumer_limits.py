"""The conversation socket's part in limits and costs: usage records, time up, hanging up on end."""

import asyncio

import httpx
import pytest
import respx
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from tests.voice.test_conversation_consumer import ask, open_socket, session_cookie
from tests.voice.test_usage import REPORTED as USAGE
from voice import hangups
from tutor.models import TutorSession

pytestmark = pytest.mark.django_db(transaction=True)

STANDIN = "http://testserver/standin/v1"


@pytest.fixture(autouse=True)
async def no_hangups_left():
    yield
    for session_id in hangups.hangups_scheduled():
        hangups.hangup_cancel(session_id)
    # The async ORM's thread keeps its connection open; PostgreSQL won't drop the test database.
    await sync_to_async(connections.close_all)()


@pytest.fixture
def alice_cookie(alice):
    return session_cookie(alice)


@pytest.fixture
def alice_session(alice, settings):
    settings.REALTIME_BASE_URL = ""
    settings.REALTIME_STANDIN = True
    settings.STANDIN_API_KEY = "sk-standin-test"
    return TutorSession.objects.create(
        learner=alice, model="gpt-realtime", voice="marin", instructions="", upstream_base_url=STANDIN
    )


def usage(response_id="resp_1", **changes):
    return {"type": "usage", "response_id": response_id, "usage": {**USAGE, **changes}}


# --- usage --------------------------------------------------------------------------------


async def test_usage_is_recorded_once_per_response(alice_session, alice_cookie, settings):
    settings.REALTIME_SIDEBAND = False  # with it, usage comes from the call, not the page
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        assert await ask(communicator, usage("resp_1")) == {"type": "usage_ack", "response_id": "resp_1"}
        assert await ask(communicator, usage("resp_1")) == {"type": "usage_ack", "response_id": "resp_1"}
        assert await ask(communicator, usage("resp_2")) == {"type": "usage_ack", "response_id": "resp_2"}

    await alice_session.arefresh_from_db()
    ledger = alice_session.usage
    assert ledger["responses"] == 2 and ledger["response_ids"] == ["resp_1", "resp_2"]
    assert (ledger["input_text_tokens"], ledger["input_audio_tokens"]) == (626, 952)
    assert (ledger["input_cached_text_tokens"], ledger["input_cached_audio_tokens"]) == (512, 768)
    assert (ledger["output_text_tokens"], ledger["output_audio_tokens"]) == (18, 46)
    assert (ledger["input_tokens"], ledger["output_tokens"]) == (1578, 64)


@pytest.mark.parametrize(
    "message",
    [
        usage(input_tokens=-1),
        usage(input_tokens="12"),
        usage(output_tokens=True),
        usage(input_token_details=[1]),
        {"type": "usage", "response_id": "resp_1", "usage": "lots"},
        usage(pad="x" * 5000),
    ],
)
async def test_malformed_usage_is_refused_with_its_response_id(alice_session, alice_cookie, message):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, message)
    assert (reply["type"], reply["code"], reply["response_id"]) == ("error", "invalid", "resp_1")
    await alice_session.arefresh_from_db()
    assert alice_session.usage == {}


async def test_usage_without_a_good_response_id_is_refused(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, usage("<b>"))
    assert reply["code"] == "invalid" and "response_id" not in reply


# --- time up --------------------------------------------------------------------------------


async def test_the_page_hears_when_the_server_ends_the_session(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        await hangups.page_tell_time_up(alice_session.pk, "You have used today's 20 minutes.")
        assert await communicator.receive_json_from(timeout=5) == {
            "type": "time_up", "reason": "time_limit", "message": "You have used today's 20 minutes."
        }


async def test_another_sessions_time_up_is_not_heard(alice_session, alice_cookie, alice):
    other = await TutorSession.objects.acreate(learner=alice, model="m", voice="v", instructions="")
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        await hangups.page_tell_time_up(other.pk, "Time is up.")
        assert await communicator.receive_nothing(timeout=0.3)


async def test_a_closed_socket_leaves_the_group(alice_session, alice_cookie, monkeypatch):
    # Seen through the layer's own API, so it holds on the in-memory and the Redis layer alike:
    # the socket's channel name is noted when the consumer asks the layer for it.
    layer = get_channel_layer()
    channel_names = []
    new_channel = layer.new_channel

    async def noted_new_channel(*args, **kwargs):
        channel_names.append(await new_channel(*args, **kwargs))
        return channel_names[-1]

    monkeypatch.setattr(layer, "new_channel", noted_new_channel)
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        # While it is open, what is sent to the session's group reaches the socket.
        await hangups.page_tell_time_up(alice_session.pk, "Time is up.")
        assert (await communicator.receive_json_from(timeout=5))["type"] == "time_up"
    [socket_channel] = channel_names

    # Once it is closed, what is sent to the group no longer reaches its channel.
    await hangups.page_tell_time_up(alice_session.pk, "Time is up.")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(socket_channel), timeout=0.5)


async def test_reporting_a_call_schedules_the_hangup(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        await ask(communicator, {"type": "call", "call_id": "rtc_1"})
    # The task outlives the socket: closing the page does not lift the cap.
    assert alice_session.pk in hangups.hangups_scheduled()


async def test_a_new_call_hangs_up_the_one_it_replaces(alice_session, alice_cookie):
    with respx.mock(assert_all_called=False) as router:
        first = router.post(f"{STANDIN}/realtime/calls/rtc_1/hangup").mock(return_value=httpx.Response(200))
        second = router.post(f"{STANDIN}/realtime/calls/rtc_2/hangup").mock(return_value=httpx.Response(200))
        async with open_socket(alice_session.pk, alice_cookie) as communicator:
            await ask(communicator, {"type": "call", "call_id": "rtc_1"})
            await ask(communicator, {"type": "call", "call_id": "rtc_1"})
            assert first.call_count == 0
            await ask(communicator, {"type": "call", "call_id": "rtc_2"})
            for _ in range(50):
                if first.call_count:
                    break
                await asyncio.sleep(0.02)

    assert (first.call_count, second.call_count) == (1, 0)


async def test_a_page_whose_call_is_replaced_elsewhere_hears_that_the_session_moved(alice_session, alice_cookie):
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{STANDIN}/realtime/calls/rtc_1/hangup").mock(return_value=httpx.Response(200))
        async with open_socket(alice_session.pk, alice_cookie) as first_window:
            await ask(first_window, {"type": "call", "call_id": "rtc_1"})
            async with open_socket(alice_session.pk, alice_cookie) as second_window:
                ack = await ask(second_window, {"type": "call", "call_id": "rtc_2"})
                assert ack["type"] == "call_ack"
                # The window that continued the session is not told to stop.
                assert await second_window.receive_nothing(timeout=0.3)
            moved = await first_window.receive_json_from(timeout=2)
    assert moved == {"type": "moved", "message": "This session went on in another window."}
    await alice_session.arefresh_from_db()
    assert (alice_session.status, alice_session.call_id) == ("live", "rtc_2")


async def test_reporting_the_call_settles_the_key_minted_for_it(alice_session, alice_cookie):
    await TutorSession.objects.filter(pk=alice_session.pk).aupdate(keys_unreported=1)
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        await ask(communicator, {"type": "call", "call_id": "rtc_1"})
    await alice_session.arefresh_from_db()
    assert alice_session.keys_unreported == 0


# --- ending hangs up ------------------------------------------------------------------------


async def test_ending_hangs_up_the_call_upstream_once(alice_session, alice_cookie):
    with respx.mock(assert_all_called=False) as router:
        route = router.post(f"{STANDIN}/realtime/calls/rtc_1/hangup").mock(return_value=httpx.Response(200))
        async with open_socket(alice_session.pk, alice_cookie) as communicator:
            await ask(communicator, {"type": "call", "call_id": "rtc_1"})
            ended = await ask(communicator, {"type": "end", "reason": "user"})
            again = await ask(communicator, {"type": "end", "reason": "user"})

    assert ended["type"] == again["type"] == "ended"
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-standin-test"
    assert alice_session.pk not in hangups.hangups_scheduled()


async def test_a_failed_hangup_on_end_is_only_logged(alice_session, alice_cookie, caplog):
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{STANDIN}/realtime/calls/rtc_1/hangup").mock(
            return_value=httpx.Response(404, json={"error": {"code": "call_not_found"}})
        )
        async with open_socket(alice_session.pk, alice_cookie) as communicator:
            await ask(communicator, {"type": "call", "call_id": "rtc_1"})
            ended = await ask(communicator, {"type": "end", "reason": "user"})
            assert await communicator.receive_nothing(timeout=0.3)

    assert ended["type"] == "ended"
    assert "Could not hang up the call of session" in caplog.text
    await alice_session.arefresh_from_db()
    assert (alice_session.status, alice_session.end_reason) == ("ended", "user")
