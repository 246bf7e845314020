import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection

from voice import items
from voice.sessions import session_call_start
from voice.items import CREATED, UNCHANGED, UPDATED, conversation_item_save
from voice.protocol import (
    CallMessage,
    EndMessage,
    ItemMessage,
    MessageInvalid,
    ToolMessage,
    message_parse,
)
from voice.sessions import SessionClosed, session_end, tutor_session_get
from tutor.models import ConversationItem, TutorSession

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
DEEP: dict = {}
_inner = DEEP
for _ in range(40):
    _inner["a"] = {}
    _inner = _inner["a"]


def session_connect(*, session, call_id, now=NOW):
    """Report a call for ``session``, as the socket does; the session as recorded."""
    return session_call_start(session=session, call_id=call_id, now=now)[0]


@pytest.fixture
def session(alice):
    return TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="")


def item_message(**fields):
    item = {"id": "item_1", "role": "user", "kind": "message", "text": "hola", "order": 0, **fields}
    return {"type": "item", "item": {k: v for k, v in item.items() if v is not ...}}


def save(session, **fields):
    values = {"item_id": "item_1", "role": "user", "kind": "message", "text": "", "raw": {}, "order": 0, **fields}
    return conversation_item_save(session=session, **values)


# --- message_parse ------------------------------------------------------------


def test_it_accepts_a_tool_output_item():
    parsed = message_parse(item_message(role="tool", kind="function_call_output", text='{"ok": true}'))
    assert (parsed.role, parsed.kind) == ("tool", "function_call_output")


def test_it_parses_each_message_type():
    assert message_parse(item_message(raw={"type": "message"})) == ItemMessage(
        item_id="item_1", role="user", kind="message", text="hola", order=0, raw={"type": "message"}
    )
    assert message_parse({"type": "call", "call_id": "rtc_9"}) == CallMessage(call_id="rtc_9")
    assert message_parse({"type": "tool", "call_id": "call_1", "name": "x", "arguments": "{}"}) == ToolMessage(
        call_id="call_1", name="x", arguments="{}"
    )
    assert message_parse({"type": "end", "reason": "hangup"}) == EndMessage(reason="hangup")
    assert message_parse({"type": "end"}) == EndMessage(reason="user")


@pytest.mark.parametrize(
    "content, item_id",
    [
        ([], None),
        ({"type": "item"}, None),
        ({"type": "item", "item": "text"}, None),
        (item_message(id=...), None),
        (item_message(id=7), None),
        (item_message(id="item 1"), None),
        (item_message(id="item_1<script>"), None),
        (item_message(id="i" * 129), None),
        (item_message(role="system"), "item_1"),
        (item_message(kind="audio"), "item_1"),
        (item_message(text=None), "item_1"),
        (item_message(text=["hola"]), "item_1"),
        (item_message(text="x" * 20_001), "item_1"),
        (item_message(text="nul \x00 byte"), "item_1"),
        (item_message(text="lone \ud800 surrogate"), "item_1"),
        (item_message(order=-1), "item_1"),
        (item_message(order=True), "item_1"),
        (item_message(order=1.5), "item_1"),
        (item_message(order="3"), "item_1"),
        (item_message(order=2**31), "item_1"),
        (item_message(raw=[1]), "item_1"),
        (item_message(raw={"x": "y" * 70_000}), "item_1"),
        (item_message(raw={"x": "\x00"}), "item_1"),
        (item_message(raw={"x": float("nan")}), "item_1"),
        (item_message(raw=DEEP), "item_1"),
        ({"type": "call"}, None),
        ({"type": "call", "call_id": "rtc/../x"}, None),
        ({"type": "tool", "name": "x", "arguments": "{}"}, None),
        ({"type": "end", "reason": 5}, None),
        ({"type": "end", "reason": "r" * 65}, None),
        ({"type": "end", "reason": "bye\nnow"}, None),
    ],
)
def test_it_refuses_a_malformed_message_with_a_clear_code(content, item_id):
    with pytest.raises(MessageInvalid) as caught:
        message_parse(content)
    assert caught.value.code == "invalid"
    assert caught.value.message
    assert caught.value.item_id == item_id


@pytest.mark.parametrize("content", [{}, {"type": "dance"}, {"type": 3}, {"type": None}])
def test_it_names_an_unknown_type(content):
    with pytest.raises(MessageInvalid) as caught:
        message_parse(content)
    assert caught.value.code == "unknown_type"


def test_it_accepts_the_largest_allowed_item():
    message = message_parse(item_message(text="x" * 20_000, id="i" * 128, order=2**31 - 1, raw={"x": "y" * 60_000}))
    assert len(message.text) == 20_000


# --- conversation_item_save -----------------------------------------------------


def test_it_saves_an_item_once(session):
    item, outcome = save(session, text="hola", raw={"type": "message"}, order=3)
    assert outcome == CREATED
    assert (item.role, item.kind, item.text, item.raw, item.order) == ("user", "message", "hola", {"type": "message"}, 3)

    again, outcome = save(session, text="hola", raw={"type": "message"}, order=3)
    assert outcome == UNCHANGED
    assert again.pk == item.pk and again.updated_at == item.updated_at
    assert ConversationItem.objects.count() == 1


def test_a_late_transcript_updates_the_item(session):
    save(session, text="", raw={"transcript": None})
    item, outcome = save(session, text="me llamo Alice", raw={"transcript": "me llamo Alice"})
    assert outcome == UPDATED
    item.refresh_from_db()
    assert (item.text, item.raw) == ("me llamo Alice", {"transcript": "me llamo Alice"})


def test_an_older_empty_copy_never_wipes_a_transcript(session):
    save(session, text="me llamo Alice", raw={"transcript": "me llamo Alice"})
    item, outcome = save(session, text="", raw={"transcript": None})
    assert outcome == UNCHANGED
    item.refresh_from_db()
    assert (item.text, item.raw) == ("me llamo Alice", {"transcript": "me llamo Alice"})


def test_it_keeps_role_and_kind_of_the_first_save(session):
    save(session, role="assistant", kind="message", text="Hola")
    item, _ = save(session, role="user", kind="function_call", text="Hola, Alice")
    assert (item.role, item.kind, item.text) == ("assistant", "message", "Hola, Alice")


def test_items_are_unique_per_session_not_globally(session, alice):
    other = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    save(session, text="a")
    save(other, text="b")
    assert ConversationItem.objects.count() == 2


def test_an_insert_lost_to_a_concurrent_writer_becomes_an_update(session):
    ConversationItem.objects.create(session=session, item_id="item_1", role="user", text="")
    real = items._item_for_update
    with mock.patch.object(items, "_item_for_update", side_effect=[None, real(session, "item_1")]) as lookup:
        item, outcome = save(session, text="hola")
    assert lookup.call_count == 2
    assert outcome == UPDATED
    assert ConversationItem.objects.get().text == "hola"


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_item_store_it_once(alice):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    barrier = threading.Barrier(6)
    outcomes, errors = [], []

    def writer(n):
        try:
            barrier.wait()
            outcomes.append(save(session, item_id="item_race", text=f"version {n % 2}")[1])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert outcomes.count(CREATED) == 1 and len(outcomes) == 6
    assert ConversationItem.objects.filter(session=session, item_id="item_race").count() == 1


# --- sessions -----------------------------------------------------------------------


def test_connecting_records_the_call_and_the_first_connect_time(session):
    connected = session_connect(session=session, call_id="rtc_1", now=NOW)
    assert (connected.status, connected.call_id, connected.connected_at) == ("live", "rtc_1", NOW)

    again = session_connect(session=session, call_id="rtc_2", now=NOW + dt.timedelta(minutes=2))
    assert (again.call_id, again.connected_at) == ("rtc_2", NOW)
    session.refresh_from_db()
    assert (session.status, session.call_id, session.connected_at) == ("live", "rtc_2", NOW)


def test_each_new_call_settles_one_key_and_a_repeated_report_settles_none(session):
    TutorSession.objects.filter(pk=session.pk).update(keys_unreported=2)
    assert session_connect(session=session, call_id="rtc_1", now=NOW).keys_unreported == 1
    assert session_connect(session=session, call_id="rtc_1", now=NOW).keys_unreported == 1
    assert session_connect(session=session, call_id="rtc_2", now=NOW).keys_unreported == 0
    # More calls than keys (a page opening two calls with one key) never goes below zero.
    assert session_connect(session=session, call_id="rtc_3", now=NOW).keys_unreported == 0


@pytest.mark.parametrize("status", ["ended", "failed"])
def test_a_closed_session_cannot_be_connected(session, status):
    TutorSession.objects.filter(pk=session.pk).update(status=status)
    with pytest.raises(SessionClosed):
        session_connect(session=session, call_id="rtc_1")
    session.refresh_from_db()
    assert session.call_id == ""


def test_ending_records_the_time_reason_and_duration_once(session):
    session_connect(session=session, call_id="rtc_1", now=NOW)
    ended = session_end(session=session, reason="user", now=NOW + dt.timedelta(seconds=95))
    assert (ended.status, ended.end_reason, ended.duration) == ("ended", "user", dt.timedelta(seconds=95))

    again = session_end(session=session, reason="hangup", now=NOW + dt.timedelta(hours=1))
    assert (again.end_reason, again.ended_at) == ("user", NOW + dt.timedelta(seconds=95))


def test_a_session_that_never_connected_ends_without_a_duration(session):
    ended = session_end(session=session, reason="error", now=NOW)
    assert (ended.status, ended.duration) == ("ended", None)


def test_a_learner_only_gets_their_own_session(session, bob):
    assert tutor_session_get(learner=session.learner, session_id=session.pk) == session
    assert tutor_session_get(learner=bob, session_id=session.pk) is None
    assert tutor_session_get(learner=bob, session_id=2**80) is None
    assert tutor_session_get(learner=bob, session_id=0) is None
