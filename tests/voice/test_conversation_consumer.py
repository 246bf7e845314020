"""The conversation socket, driven through the real ASGI application with a session cookie."""

import datetime as dt
import json
from contextlib import asynccontextmanager

import pytest
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client

from config.asgi import application
from tests.support.sockets import socket_connect
from tutor.models import ConversationItem, Review, TutorSession, WordProgress

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = b"http://localhost:8000"
TIMEOUT = 5


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
async def no_hangups_left():
    """Reporting a call schedules the server's hang-up; stop those a test leaves behind."""
    from voice import hangups

    yield
    for session_id in hangups.hangups_scheduled():
        hangups.hangup_cancel(session_id)


@pytest.fixture
def alice_cookie(alice):
    return session_cookie(alice)


@pytest.fixture
def bob_cookie(bob):
    return session_cookie(bob)


@pytest.fixture
def alice_session(alice, alice_words):
    return TutorSession.objects.create(
        learner=alice, model="gpt-realtime", voice="marin", instructions="Focus words: gato", focus_words=["gato"]
    )


@asynccontextmanager
async def socket(session_id, cookie=None, origin=ORIGIN):
    headers = [] if origin is None else [(b"origin", origin)]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/tutor/sessions/{session_id}/", headers=headers)
    try:
        communicator.result = await socket_connect(communicator, timeout=TIMEOUT)
        yield communicator
    finally:
        await communicator.disconnect()


@asynccontextmanager
async def open_socket(session_id, cookie):
    async with socket(session_id, cookie) as communicator:
        assert communicator.result == (True, None)
        yield communicator


async def ask(communicator, message):
    if isinstance(message, str):
        await communicator.send_to(text_data=message)
    else:
        await communicator.send_json_to(message)
    return await communicator.receive_json_from(timeout=TIMEOUT)


def item(item_id="item_1", text="hola", role="user", kind="message", order=0, **extra):
    return {"type": "item", "item": {"id": item_id, "role": role, "kind": kind, "text": text, "order": order, **extra}}


async def items(session):
    return [i async for i in ConversationItem.objects.filter(session=session).order_by("order", "item_id")]


# --- who may connect -------------------------------------------------------------


async def test_it_lets_the_learner_into_their_own_session(alice_session, alice_cookie):
    async with socket(alice_session.pk, alice_cookie) as communicator:
        assert communicator.result == (True, None)
        assert await ask(communicator, item()) == {"type": "ack", "item_id": "item_1"}


async def test_it_refuses_another_learners_session(alice_session, bob_cookie):
    async with socket(alice_session.pk, bob_cookie) as communicator:
        assert communicator.result == (False, 4404)


async def test_it_refuses_a_session_that_does_not_exist(alice_session, alice_cookie):
    async with socket(alice_session.pk + 1000, alice_cookie) as communicator:
        assert communicator.result == (False, 4404)


async def test_it_refuses_anonymous_visitors(alice_session):
    async with socket(alice_session.pk, cookie=None) as communicator:
        assert communicator.result == (False, 4401)


@pytest.mark.parametrize("origin", [b"http://evil.example", b"https://localhost.evil.example", None])
async def test_it_refuses_a_foreign_or_missing_origin(alice_session, alice_cookie, origin):
    async with socket(alice_session.pk, alice_cookie, origin=origin) as communicator:
        assert communicator.result[0] is False


# --- items ---------------------------------------------------------------------------


async def test_it_saves_an_item_and_acknowledges_it(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, item("item_A", "Hola, ¿qué tal?", role="assistant", order=2, raw={"type": "message"}))

    assert reply == {"type": "ack", "item_id": "item_A"}
    [saved] = await items(alice_session)
    assert (saved.item_id, saved.role, saved.kind, saved.text, saved.order, saved.raw) == (
        "item_A", "assistant", "message", "Hola, ¿qué tal?", 2, {"type": "message"}
    )


async def test_a_resend_after_a_reconnect_is_saved_once(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        assert (await ask(communicator, item("item_1", "hola")))["type"] == "ack"
        assert (await ask(communicator, item("item_2", "¿cómo estás?", role="assistant", order=1)))["type"] == "ack"
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        assert await ask(communicator, item("item_1", "hola")) == {"type": "ack", "item_id": "item_1"}
        assert await ask(communicator, item("item_2", "¿cómo estás?", role="assistant", order=1)) == {
            "type": "ack", "item_id": "item_2"
        }

    assert [(i.item_id, i.text) for i in await items(alice_session)] == [("item_1", "hola"), ("item_2", "¿cómo estás?")]


async def test_a_late_transcript_updates_the_learners_item(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        await ask(communicator, item("item_user", "", order=0))
        await ask(communicator, item("item_tutor", "¡Muy bien!", role="assistant", order=1))
        assert (await ask(communicator, item("item_user", "el gato es negro", order=0)))["type"] == "ack"
        await ask(communicator, item("item_user", "", order=0))  # a stale copy from the outbox

    assert [(i.item_id, i.text) for i in await items(alice_session)] == [
        ("item_user", "el gato es negro"), ("item_tutor", "¡Muy bien!")
    ]


# --- bad frames ----------------------------------------------------------------------


async def test_bad_frames_get_error_replies_and_the_socket_stays_open(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        assert (await ask(communicator, "{not json"))["code"] == "bad_json"
        assert (await ask(communicator, '{"type": "item", "x": NaN}'))["code"] == "bad_json"
        await communicator.send_input({"type": "websocket.receive", "text": ""})
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "bad_json"
        await communicator.send_to(bytes_data=b"\x00\x01")
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["code"] == "binary"
        too_large = await ask(communicator, item(text="x" * 19_000, raw={"pad": "y" * 120_000}))
        assert too_large["type"] == "error" and too_large["code"] == "too_large" and too_large["message"]
        assert (await ask(communicator, {"type": "dance"}))["code"] == "unknown_type"
        assert (await ask(communicator, "[1, 2]"))["code"] == "invalid"

        assert await ask(communicator, item("item_ok")) == {"type": "ack", "item_id": "item_ok"}

    assert [i.item_id for i in await items(alice_session)] == ["item_ok"]


@pytest.mark.parametrize(
    "message",
    [
        item(order="3"),
        item(order=-1),
        item(text=None),
        item(text="x" * 20_001),
        item(role="system"),
        item(kind="audio"),
        item(raw="not an object"),
        item(text="nul\x00"),
    ],
)
async def test_an_invalid_item_is_refused_and_nothing_is_written(alice_session, alice_cookie, message):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, message)

    assert reply["type"] == "error" and reply["code"] == "invalid" and reply["message"]
    assert reply["item_id"] == "item_1"
    assert await items(alice_session) == []


async def test_an_item_with_a_bad_id_is_refused_without_echoing_it(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, item(item_id="<img src=x>"))
    assert reply["code"] == "invalid" and "item_id" not in reply
    assert await items(alice_session) == []


# --- call, tools, end ------------------------------------------------------------------


async def test_it_records_the_call(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        ack = await ask(communicator, {"type": "call", "call_id": "rtc_abc"})
        assert (await ask(communicator, {"type": "call", "call_id": "bad id!"}))["code"] == "invalid"

    await alice_session.arefresh_from_db()
    assert (alice_session.status, alice_session.call_id) == ("live", "rtc_abc")
    assert alice_session.connected_at is not None
    # Alice's 20 minutes a day, counted from the mint, come before the 30-minute session cap.
    assert alice_session.hangup_at == alice_session.minted_at + dt.timedelta(minutes=20)
    assert ack == {
        "type": "call_ack",
        "call_id": "rtc_abc",
        "hangup_at": int(alice_session.hangup_at.timestamp()),
        "seconds_left": 1200,
    }


async def test_a_tool_call_updates_the_learners_progress(alice_session, alice_cookie, alice, settings):
    settings.REALTIME_SIDEBAND = False  # without the sideband, the page relays its tool calls
    arguments = json.dumps({"word": "gato", "outcome": "correct"})
    message = {"type": "tool", "call_id": "call_1", "name": "record_word_practice", "arguments": arguments}
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, message)
        resent = await ask(communicator, message)

    assert reply["type"] == "tool_result" and reply["call_id"] == "call_1"
    output = json.loads(reply["output"])
    assert output["recorded"] is True and output["word"] == "gato"
    assert resent == reply
    progress = await WordProgress.objects.aget(learner=alice, word__term="gato")
    assert (progress.correct_count, progress.last_result) == (1, "correct")
    assert await Review.objects.filter(session=alice_session, source="voice").acount() == 1


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("record_word_practice", "{broken"),
        ("record_word_practice", json.dumps({"word": "chien", "outcome": "correct"})),
        ("record_word_practice", {"word": "gato"}),
        ("launch_rockets", "{}"),
        (None, "{}"),
    ],
)
async def test_a_wrong_tool_call_gets_an_error_output_for_the_model(alice_session, alice_cookie, name, arguments):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, {"type": "tool", "call_id": "call_9", "name": name, "arguments": arguments})

    assert reply["type"] == "tool_result" and reply["call_id"] == "call_9"
    assert json.loads(reply["output"])["error"]
    assert not await WordProgress.objects.aexists()


async def test_a_tool_call_without_a_call_id_is_refused(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        reply = await ask(communicator, {"type": "tool", "name": "get_word_details", "arguments": "{}"})
    assert (reply["type"], reply["code"]) == ("error", "invalid")


async def test_ending_records_the_duration_and_late_items_still_save(alice_session, alice_cookie, settings):
    settings.REALTIME_SIDEBAND = False  # with it, the server saved what it saw and refuses late items
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        await ask(communicator, {"type": "call", "call_id": "rtc_1"})
        ended = await ask(communicator, {"type": "end", "reason": "user"})
        again = await ask(communicator, {"type": "end", "reason": "hangup"})
        late = await ask(communicator, item("item_late", "adiós"))
        refused = await ask(communicator, {"type": "call", "call_id": "rtc_2"})

    await alice_session.arefresh_from_db()
    assert (alice_session.status, alice_session.end_reason) == ("ended", "user")
    assert ended == {
        "type": "ended",
        "session_id": alice_session.pk,
        "duration_seconds": alice_session.duration.total_seconds(),
    }
    assert again == ended
    assert late == {"type": "ack", "item_id": "item_late"}
    assert (refused["type"], refused["code"]) == ("error", "session_ended")
    assert alice_session.call_id == "rtc_1"


async def test_ending_a_session_that_never_connected_has_no_duration(alice_session, alice_cookie):
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        ended = await ask(communicator, {"type": "end", "reason": "error"})
    assert ended == {"type": "ended", "session_id": alice_session.pk, "duration_seconds": None}


async def test_item_frames_make_no_trip_to_the_shared_database_thread(alice_session, alice_cookie, monkeypatch):
    """Channels would close old connections there before every frame; an item's save runs on
    a worker thread that closes its own, so only the other frames close them (after)."""
    from channels import consumer as channels_consumer

    from voice import consumers

    trips = []

    async def counted():
        trips.append(1)

    monkeypatch.setattr(channels_consumer, "aclose_old_connections", counted)
    monkeypatch.setattr(consumers, "aclose_old_connections", counted)
    async with open_socket(alice_session.pk, alice_cookie) as communicator:
        trips.clear()  # the connect's
        for n in range(3):
            assert (await ask(communicator, item(f"item_{n}", order=n)))["type"] == "ack"
        assert trips == []
        assert (await ask(communicator, {"type": "end", "reason": "user"}))["type"] == "ended"
        assert trips == [1]
