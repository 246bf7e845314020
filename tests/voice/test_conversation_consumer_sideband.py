"""The conversation socket with the sideband on: the page's word is not taken for grades,
practice or usage, and nobody's page can claim another session's call."""

from __future__ import annotations

import json

import pytest

from tests.voice.test_conversation_consumer import ask, open_socket, session_cookie
from tutor.models import CallLease, OralQuiz, Review, TestResult, TutorSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sideband_on(settings):
    settings.REALTIME_SIDEBAND = True
    settings.SIDEBAND_IN_PROCESS = False  # no loop here: these tests look at the socket alone


@pytest.fixture
def alice_session(alice, alice_words):
    return TutorSession.objects.create(
        learner=alice, model="gpt-realtime", voice="marin", instructions="", focus_words=["gato"]
    )


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("record_word_practice", {"word": "gato", "outcome": "correct"}),
        ("record_quiz_answer", {"word": "gato", "outcome": "correct"}),
        ("finish_oral_quiz", {}),
    ],
)
async def test_tools_that_write_grades_are_refused_from_the_page(sideband_on, alice_session, alice, name, arguments):
    frame = {"type": "tool", "call_id": "call_1", "name": name, "arguments": json.dumps(arguments)}
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        await ask(communicator, {"type": "tool", "call_id": "q", "name": "start_oral_quiz", "arguments": "{}"})
        reply = await ask(communicator, frame)

    assert reply["type"] == "tool_result" and "error" in json.loads(reply["output"])
    assert not await Review.objects.aexists()
    assert not await TestResult.objects.aexists()
    assert await OralQuiz.objects.acount() == 1  # the page may still start the quiz


async def test_the_pages_usage_is_acknowledged_and_ignored(sideband_on, alice_session, alice):
    frame = {"type": "usage", "response_id": "resp_1", "usage": {"input_tokens": 10**9, "output_tokens": 10**9}}
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        assert await ask(communicator, frame) == {"type": "usage_ack", "response_id": "resp_1"}
    await alice_session.arefresh_from_db()
    assert alice_session.usage == {}


async def test_a_reported_call_is_offered_to_the_sideband(sideband_on, alice_session, alice):
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        assert (await ask(communicator, {"type": "call", "call_id": "rtc_mine"}))["type"] == "call_ack"
    lease = await CallLease.objects.aget()
    assert (lease.call_id, lease.session_id, lease.holder) == ("rtc_mine", alice_session.pk, "")


async def test_another_sessions_call_is_refused_and_left_alone(alice_session, alice, bob, settings):
    bobs = await TutorSession.objects.acreate(
        learner=bob, model="m", voice="v", instructions="", status="live", call_id="rtc_bobs"
    )
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        reply = await ask(communicator, {"type": "call", "call_id": "rtc_bobs"})

    assert (reply["type"], reply["code"]) == ("error", "call_taken")
    await alice_session.arefresh_from_db()
    await bobs.arefresh_from_db()
    assert alice_session.call_id == "" and (bobs.status, bobs.call_id) == ("live", "rtc_bobs")


async def _cookie(user):
    from asgiref.sync import sync_to_async

    return await sync_to_async(session_cookie)(user)


# --- A closed session, or a deactivated learner, refuses everything that counts ----------------


async def _ended(session):
    await TutorSession.objects.filter(pk=session.pk).aupdate(status="ended")


async def test_after_the_end_tools_usage_and_checks_write_nothing(alice_session, alice):
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        await _ended(alice_session)
        tool = await ask(communicator, {"type": "tool", "call_id": "c1", "name": "record_word_practice",
                                        "arguments": json.dumps({"word": "gato", "outcome": "correct"})})
        usage = await ask(communicator, {"type": "usage", "response_id": "r1", "usage": {"input_tokens": 5}})
        check = await ask(communicator, {"type": "check", "item_id": "i1", "text": "hola"})

    assert "error" in json.loads(tool["output"])
    assert (usage["code"], usage["response_id"]) == ("session_ended", "r1")
    assert check["code"] == "session_ended"
    assert not await Review.objects.aexists()
    await alice_session.arefresh_from_db()
    assert alice_session.usage == {}


@pytest.fixture(params=[True, False], ids=["group commit", "one by one"])
def group_commit(request, settings):
    settings.TUTOR_ITEM_GROUP_COMMIT = request.param


async def test_after_the_end_items_are_refused_with_the_sideband_on(sideband_on, group_commit, alice_session, alice):
    item = {"type": "item", "item": {"id": "item_late", "role": "user", "kind": "message", "text": "hola", "order": 0}}
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        assert (await ask(communicator, {**item, "item": {**item["item"], "id": "item_early"}}))["type"] == "ack"
        await _ended(alice_session)
        reply = await ask(communicator, item)
    assert reply == {
        "type": "error", "code": "session_ended", "item_id": "item_late",
        "message": "This session has ended; nothing more is saved on it.",
    }
    from tutor.models import ConversationItem

    assert [i.item_id async for i in ConversationItem.objects.all()] == ["item_early"]


async def test_a_deactivated_learners_items_are_refused_with_the_sideband_on(sideband_on, group_commit, alice_session, alice):
    from asgiref.sync import sync_to_async

    from tutor.models import ConversationItem

    item = {"type": "item", "item": {"id": "item_late", "role": "user", "kind": "message", "text": "hola", "order": 0}}
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        await sync_to_async(type(alice).objects.filter(pk=alice.pk).update)(is_active=False)
        reply = await ask(communicator, item)
    assert (reply["code"], reply["item_id"]) == ("session_ended", "item_late")
    assert not await ConversationItem.objects.aexists()


async def test_an_items_save_reads_whether_the_session_is_open_itself(sideband_on, group_commit, alice_session, alice, monkeypatch):
    """No read of its own before the save (one more query and thread hop per item)."""
    from voice import consumers

    def no_separate_read(session_id):
        raise AssertionError("an item took the separate open-session read")

    monkeypatch.setattr(consumers, "_session_is_open", no_separate_read)
    item = {"type": "item", "item": {"id": "item_1", "role": "user", "kind": "message", "text": "hola", "order": 0}}
    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        assert await ask(communicator, item) == {"type": "ack", "item_id": "item_1"}


async def test_a_deactivated_learners_socket_refuses_tools_at_once(alice_session, alice):
    from asgiref.sync import sync_to_async

    async with open_socket(alice_session.pk, await _cookie(alice)) as communicator:
        alice.is_active = False
        await sync_to_async(alice.save)()
        tool = await ask(communicator, {"type": "tool", "call_id": "c1", "name": "record_word_practice",
                                        "arguments": json.dumps({"word": "gato", "outcome": "correct"})})
    assert "error" in json.loads(tool["output"])
    assert not await Review.objects.aexists()


def test_deactivating_a_learner_ends_their_live_sessions_and_hangs_up(alice, monkeypatch):
    hung_up = []

    async def hang_up(session, **kwargs):
        hung_up.append(session.call_id)
        return True

    monkeypatch.setattr("voice.hangups.call_hang_up", hang_up)
    live = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="", status="live", call_id="rtc_a")
    done = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="", status="ended", call_id="rtc_b")
    alice.is_active = False
    alice.save()

    live.refresh_from_db()
    done.refresh_from_db()
    assert (live.status, live.end_reason) == ("ended", "deactivated")
    assert done.end_reason == "" and hung_up == ["rtc_a"]
