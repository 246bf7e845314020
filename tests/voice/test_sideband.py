"""The sideband's handling of a call's events: what the server records from what it saw.

The transport is faked here (a scripted connection); tests/voice/test_sideband_e2e.py joins
real calls on the stand-in.
"""

from __future__ import annotations

import json

import pytest

from tutor.models import ConversationItem, Review, TestResult, ToolCall, TutorSession, WordProgress
from voice import sideband
from voice.items import conversation_item_save

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live(alice, alice_words):
    return TutorSession.objects.create(
        learner=alice, model="gpt-realtime", voice="marin", instructions="Focus words: gato",
        focus_words=["gato"], call_id="rtc_live", status="live", upstream_base_url="",
    )


class Sent(list):
    async def __call__(self, event):
        self.append(event)


def watcher(session):
    sent = Sent()
    return sideband.CallWatcher(session=session, call_id=session.call_id, send=sent), sent


def function_call(call_id="call_1", name="record_word_practice", arguments=None, item_id="item_fc"):
    arguments = json.dumps({"word": "gato", "outcome": "correct"}) if arguments is None else arguments
    return {
        "type": "conversation.item.done",
        "item": {"id": item_id, "type": "function_call", "status": "completed", "call_id": call_id,
                 "name": name, "arguments": arguments},
    }


async def test_a_function_call_it_sees_runs_once_and_is_answered_on_the_call(live):
    watch, sent = watcher(live)
    await watch.handle(function_call())
    await watch.handle(function_call())  # the same event again (a second holder, a replay)

    assert await Review.objects.filter(session=live, source="voice").acount() == 1
    assert await ToolCall.objects.filter(session=live, call_id="call_1").acount() == 1
    assert [event["type"] for event in sent] == ["conversation.item.create", "response.create"]
    output = json.loads(sent[0]["item"]["output"])
    assert sent[0]["item"]["call_id"] == "call_1" and output["recorded"] is True
    item = await ConversationItem.objects.aget(session=live, item_id="item_fc")
    assert item.verified and item.kind == "function_call"


async def test_a_quiz_handoff_is_applied_on_the_call_and_the_model_gets_handoff_to(live):
    watch, sent = watcher(live)
    await watch.handle(function_call(name="start_oral_quiz", arguments="{}"))

    assert [event["type"] for event in sent] == ["session.update", "conversation.item.create", "response.create"]
    assert "examiner" in sent[0]["session"]["instructions"]
    output = json.loads(sent[1]["item"]["output"])
    assert output["handoff_to"] == "examiner" and "handoff" not in output


async def test_the_quiz_grade_comes_from_calls_the_server_saw(live):
    watch, _ = watcher(live)
    await watch.handle(function_call(call_id="c1", name="start_oral_quiz", arguments="{}", item_id="i1"))
    await watch.handle(function_call(call_id="c2", name="finish_oral_quiz", arguments="{}", item_id="i2"))
    result = await TestResult.objects.aget(learner_id=live.learner_id)
    assert (result.source, result.score) == ("voice", 0)


async def test_usage_is_counted_from_each_response_done_once(live):
    watch, _ = watcher(live)
    done = {"type": "response.done", "response": {"id": "resp_1", "usage": {
        "input_tokens": 100, "output_tokens": 40,
        "input_token_details": {"text_tokens": 60, "audio_tokens": 40},
        "output_token_details": {"text_tokens": 10, "audio_tokens": 30},
    }}}
    await watch.handle(done)
    await watch.handle(done)
    await live.arefresh_from_db()
    assert (live.usage["input_tokens"], live.usage["output_tokens"], live.usage["responses"]) == (100, 40, 1)


async def test_speaking_time_is_measured_from_the_speech_events(live):
    watch, _ = watcher(live)
    for item_id, start, end in [("u1", 1000, 2500), ("u2", 4000, 4750)]:
        await watch.handle({"type": "input_audio_buffer.speech_started", "item_id": item_id, "audio_start_ms": start})
        await watch.handle({"type": "input_audio_buffer.speech_stopped", "item_id": item_id, "audio_end_ms": end})
    await watch.handle({"type": "input_audio_buffer.speech_stopped", "item_id": "never_started", "audio_end_ms": 9000})
    await live.arefresh_from_db()
    assert live.speaking_seconds == pytest.approx(2.25)


async def test_the_learners_transcript_is_saved_as_verified_and_the_page_cannot_rewrite_it(live):
    watch, _ = watcher(live)
    await watch.handle({"type": "conversation.item.done", "item": {
        "id": "item_u", "type": "message", "role": "user", "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}]}})
    await watch.handle({"type": "conversation.item.input_audio_transcription.completed",
                        "item_id": "item_u", "content_index": 0, "transcript": "el gato"})

    from channels.db import database_sync_to_async

    _, outcome = await database_sync_to_async(conversation_item_save)(
        session=live, item_id="item_u", role="user", kind="message", text="gato gato gato", order=3
    )
    item = await ConversationItem.objects.aget(session=live, item_id="item_u")
    assert (outcome, item.text, item.verified, item.order) == ("updated", "el gato", True, 3)  # only placed


async def test_a_blocked_term_in_the_streaming_reply_cancels_it_and_flags_the_item(live, settings):
    settings.GUARDRAIL_BLOCKED_TERMS = ["caramba"]
    watch, sent = watcher(live)
    for delta in ["Hola, ", "¡Caram", "ba! ", "más"]:
        await watch.handle({"type": "response.output_audio_transcript.delta", "item_id": "item_a", "delta": delta})

    assert [event["type"] for event in sent] == ["response.cancel", "output_audio_buffer.clear"]
    item = await ConversationItem.objects.aget(session=live, item_id="item_a")
    assert item.flagged and "caramba" in item.flag_reason and item.text == "Hola, ¡Caramba! "


async def test_a_clean_reply_sends_nothing(live, settings):
    settings.GUARDRAIL_BLOCKED_TERMS = ["caramba"]
    watch, sent = watcher(live)
    await watch.handle({"type": "response.output_audio_transcript.delta", "item_id": "item_a", "delta": "Hola"})
    await watch.handle({"type": "response.output_audio_transcript.done", "item_id": "item_a", "transcript": "Hola"})
    assert sent == []
    assert not await ConversationItem.objects.filter(flagged=True).aexists()


class FakeConnection:
    def __init__(self, events):
        self.events = [json.dumps(event).encode() for event in events]
        self.sent = []

    async def recv_bytes(self):
        from websockets.exceptions import ConnectionClosedOK
        from websockets.frames import Close

        if not self.events:
            raise ConnectionClosedOK(Close(1000, ""), Close(1000, ""), True)
        return self.events.pop(0)

    async def send(self, event):
        self.sent.append(event)


class FakeManager:
    def __init__(self, connection=None, error=None):
        self.connection, self.error = connection, error

    async def __aenter__(self):
        if self.error:
            raise self.error
        return self.connection

    async def __aexit__(self, *exc):
        return None


async def test_watching_a_call_records_the_join_and_its_events(live):
    connection = FakeConnection([{"type": "session.created", "session": {}}, function_call()])
    ended = await sideband.call_watch(session_id=live.pk, call_id="rtc_live", connect=lambda: FakeManager(connection))

    assert ended == sideband.CALL_ENDED
    await live.arefresh_from_db()
    assert live.sideband_joined_at is not None
    assert [event["type"] for event in connection.sent] == ["conversation.item.create", "response.create"]
    assert await WordProgress.objects.filter(learner_id=live.learner_id).aexists()


@pytest.mark.parametrize(
    "manager",
    [
        lambda: FakeManager(error=OSError("404 call_id_not_found")),
        lambda: FakeManager(FakeConnection([{"type": "error", "error": {"type": "invalid_request_error", "code": "call_id_not_found"}}])),
    ],
)
async def test_a_call_the_sideband_cannot_join_is_charged_as_a_false_report(live, manager):
    ended = await sideband.call_watch(session_id=live.pk, call_id="rtc_live", connect=manager)

    assert ended == "refused"
    await live.arefresh_from_db()
    assert live.keys_unreported == 1 and "could not join" in live.call_refused
    assert live.sideband_joined_at is None  # joined means the call took us (its session.created)


async def test_on_joining_it_asks_the_call_for_the_items_it_has_not_seen(live):
    """The page saved items before the sideband joined (or while a holder was dead): the new
    holder retrieves them from the call; an item the sideband already saw is not asked for."""
    from asgiref.sync import sync_to_async

    save = sync_to_async(conversation_item_save)
    await save(session=live, item_id="item_page", role="user", kind="message", text="hola", order=1)
    await save(session=live, item_id="item_fc", role="assistant", kind="function_call", text="{}", order=2)
    await save(session=live, item_id="item_seen", role="assistant", kind="message", text="Hola", order=3, verified=True)
    watch, sent = watcher(live)

    await watch.catch_up()

    assert [(event["type"], event["item_id"]) for event in sent] == [
        ("conversation.item.retrieve", "item_page"), ("conversation.item.retrieve", "item_fc"),
    ]
    assert len({event["event_id"] for event in sent}) == 2


async def test_a_retrieved_function_call_runs_once_and_a_retrieved_message_becomes_verified(live):
    from asgiref.sync import sync_to_async

    await sync_to_async(conversation_item_save)(session=live, item_id="item_page", role="user", kind="message", text="hola", order=1)
    watch, sent = watcher(live)
    retrieved = {**function_call(), "type": "conversation.item.retrieved"}
    await watch.handle(retrieved)
    await watch.handle(retrieved)
    await watch.handle({"type": "conversation.item.retrieved", "item": {
        "id": "item_page", "type": "message", "role": "user", "status": "completed",
        "content": [{"type": "input_text", "text": "hola"}]}})

    assert await ToolCall.objects.filter(session=live, call_id="call_1").acount() == 1
    assert [event["type"] for event in sent] == ["conversation.item.create", "response.create"]
    assert await ConversationItem.objects.filter(session=live, item_id="item_page", verified=True).aexists()


async def test_a_forged_item_id_the_call_does_not_know_changes_nothing(live):
    connection = FakeConnection([
        {"type": "session.created", "session": {}},
        {"type": "error", "error": {"type": "invalid_request_error", "code": "item_not_found", "message": "no such item"}},
    ])
    ended = await sideband.call_watch(session_id=live.pk, call_id="rtc_live", connect=lambda: FakeManager(connection))

    assert ended == sideband.CALL_ENDED
    await live.arefresh_from_db()
    assert live.call_refused == "" and not await ToolCall.objects.filter(session=live).aexists()


async def test_a_call_that_closes_while_the_server_catches_up_ends_quietly(live, caplog):
    from asgiref.sync import sync_to_async
    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Close

    await sync_to_async(conversation_item_save)(session=live, item_id="item_page", role="user", kind="message", text="hola", order=1)
    connection = FakeConnection([{"type": "session.created", "session": {}}])

    async def closed(event):
        raise ConnectionClosedError(Close(4004, ""), Close(4004, ""), True)

    connection.send = closed
    ended = await sideband.call_watch(session_id=live.pk, call_id="rtc_live", connect=lambda: FakeManager(connection))

    assert ended == sideband.CALL_ENDED
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
