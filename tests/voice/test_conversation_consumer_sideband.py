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
