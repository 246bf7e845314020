"""The call state machine's transport-dependent parts: audio in and out over a socket, the order of
the learner's transcript against the reply, content part types."""

from __future__ import annotations

import base64
import json

import pytest

from standin.call import Call
from tests.standin.test_call_protocol import (
    Harness,
    fake_synthesize,
    make_session,
    pcm_silence,
    pcm_tone,
    voice_session,
)


def first(h: Harness, event_type: str) -> int:
    return h.types().index(event_type)


# --- the learner's transcript: before the reply (default) or after it has started --------------


async def test_by_default_the_transcript_comes_before_the_reply():
    h = Harness(make_session(audio={"input": {"transcription": {"model": "whisper-1"}}}))

    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    completed = first(h, "conversation.item.input_audio_transcription.completed")
    assert first(h, "response.created") < completed < first(h, "response.output_item.added")


@pytest.mark.parametrize("modalities", [["audio"], ["text"]])
async def test_with_transcript_after_reply_the_transcript_comes_once_the_reply_has_started(modalities):
    h = Harness(
        make_session(output_modalities=modalities, audio={"input": {"transcription": {"model": "whisper-1"}}}),
        transcript_after_reply=True,
    )

    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    delta = "response.output_audio_transcript.delta" if modalities == ["audio"] else "response.output_text.delta"
    completed = first(h, "conversation.item.input_audio_transcription.completed")
    assert first(h, delta) < completed < first(h, "response.done")
    assert "gato" in h.last("response.done")["response"]["output"][0]["content"][0].get("transcript", "") + h.last(
        "response.done"
    )["response"]["output"][0]["content"][0].get("text", "")  # the tutor still heard the learner


async def test_with_transcript_after_reply_a_tool_call_reply_comes_first_too():
    h = Harness(voice_session(), transcript_after_reply=True)

    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    completed = first(h, "conversation.item.input_audio_transcription.completed")
    assert first(h, "response.function_call_arguments.delta") < completed < first(h, "response.done")


async def test_with_transcript_after_reply_a_turn_without_a_reply_is_not_held_back():
    h = Harness(voice_session(create_response=False), transcript_after_reply=True)

    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    assert "conversation.item.input_audio_transcription.completed" in h.types()
    assert "response.created" not in h.types()


# --- content parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("modalities", "part", "content"), [(["audio"], "audio", "output_audio"), (["text"], "text", "output_text")])
async def test_content_parts_are_typed_audio_or_text_and_items_keep_output_types(modalities, part, content):
    h = Harness(make_session(output_modalities=modalities))

    await h.send({"type": "response.create"})

    assert [e["part"]["type"] for e in h.events if e["type"].startswith("response.content_part.")] == [part, part]
    assert h.last("response.done")["response"]["output"][0]["content"][0]["type"] == content
    assert h.last("response.created")["response"]["conversation_id"] == h.call.conversation_id
    assert h.call.conversation_id.startswith("conv_")


# --- the WebSocket transport ------------------------------------------------------------------


def socket_call(session: dict, events: list) -> Call:
    call = Call(
        call_id="sess_test",
        session=session,
        send=events.append,
        transcribe=lambda pcm, terms: "the word is gato",
        synthesize=fake_synthesize,
        pace=0,
        transport="websocket",
    )
    call.start()
    return call


@pytest.mark.parametrize(("audio_format", "bytes_per_second"), [({"type": "audio/pcm", "rate": 24000}, 48000), ({"type": "audio/pcmu"}, 8000)])
async def test_over_a_socket_the_tutors_audio_is_output_audio_deltas(audio_format, bytes_per_second):
    events: list[dict] = []
    call = socket_call(make_session(audio={"output": {"format": audio_format}}), events)

    await call.receive(json.dumps({"type": "response.create"}))
    await call.settled()

    types = [e["type"] for e in events]
    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    audio = b"".join(base64.b64decode(e["delta"]) for e in deltas)
    assert abs(len(audio) - 0.2 * bytes_per_second) <= 0.01 * bytes_per_second  # the 0.2 s fake voice
    assert types.index("response.output_audio.delta") < types.index("response.output_audio_transcript.done")
    assert {e["item_id"] for e in deltas} == {events[types.index("response.output_item.added")]["item"]["id"]}
    assert not any(t.startswith("output_audio_buffer.") for t in types)


async def test_over_a_socket_appended_audio_makes_a_voice_turn():
    events: list[dict] = []
    call = socket_call(voice_session(), events)
    pcm24 = _at_24k(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    for start in range(0, len(pcm24), 9600):
        await call.receive(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24[start : start + 9600]).decode()}))
    await call.settled()

    types = [e["type"] for e in events]
    assert types.index("input_audio_buffer.speech_started") < types.index("input_audio_buffer.committed")
    assert "conversation.item.input_audio_transcription.completed" in types
    assert "response.done" in types
    assert "error" not in types


async def test_append_is_refused_over_webrtc_and_clear_over_a_socket():
    h = Harness()
    await h.send({"type": "input_audio_buffer.append", "audio": ""})
    assert h.last("error")["error"]["param"] == "type"

    events: list[dict] = []
    call = socket_call(make_session(), events)
    await call.receive(json.dumps({"type": "output_audio_buffer.clear"}))
    await call.receive(json.dumps({"type": "input_audio_buffer.append", "audio": "not base64!"}))
    await call.receive(json.dumps({"type": "input_audio_buffer.append", "audio": 5}))
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [error["param"] for error in errors] == ["type", "audio", "audio"]


def _at_24k(pcm16k: bytes) -> bytes:
    from standin import speech

    return speech.resample(pcm16k, 16000, 24000)
