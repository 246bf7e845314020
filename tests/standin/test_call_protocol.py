"""The call state machine alone: client events in, GA server events out, no WebRTC."""

from __future__ import annotations

import json
import math
from array import array

import pytest

from standin import config
from standin.call import MAX_EVENT_BYTES, Call
from tests.standin.helpers import GET_WORD_DETAILS, INSTRUCTIONS, RECORD_WORD_PRACTICE

RATE = 16000


def pcm_silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def pcm_tone(seconds: float, amplitude: int = 5000) -> bytes:
    return array("h", (int(amplitude * math.sin(2 * math.pi * 220 * i / RATE)) for i in range(int(seconds * RATE)))).tobytes()


async def fake_synthesize(text, *, voice, speed):
    return pcm_tone_48k(0.2)


def pcm_tone_48k(seconds: float) -> bytes:
    return array("h", (int(3000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(int(seconds * 48000)))).tobytes()


class Harness:
    def __init__(self, session: dict | None = None, transcript: str | Exception = "the word is gato", **options) -> None:
        self.events: list[dict] = []
        self.transcribed: list[tuple[int, list[str]]] = []

        def transcribe(pcm, terms):
            self.transcribed.append((len(pcm), terms))
            if isinstance(transcript, Exception):
                raise transcript
            return transcript

        self.call = Call(
            call_id="rtc_test",
            session=session or make_session(),
            send=self.events.append,
            transcribe=transcribe,
            synthesize=fake_synthesize,
            pace=0,
            **options,
        )
        self.call.start()

    async def send(self, event) -> None:
        await self.call.receive(event if isinstance(event, (str, bytes)) else json.dumps(event))
        await self.call.settled()

    async def feed(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), 640):  # 20 ms pieces, as from the WebRTC track
            self.call.feed_audio(pcm[start : start + 640])
        await self.call.settled()

    def play_out(self) -> int:
        frames = 0
        while self.call.output.playing is not None or frames == 0:
            self.call.output.next_frame()
            frames += 1
            assert frames < 10_000
        return frames

    def types(self, since: int = 0) -> list[str]:
        return [e["type"] for e in self.events[since:]]

    def of(self, event_type: str) -> list[dict]:
        return [e for e in self.events if e["type"] == event_type]

    def last(self, event_type: str) -> dict:
        return self.of(event_type)[-1]


def make_session(**fields) -> dict:
    return config.session_create({"type": "realtime", "instructions": INSTRUCTIONS, **fields})


def user_text(text: str) -> dict:
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}


RESPONSE_AUDIO = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio_transcript.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]


def collapse(types: list[str]) -> list[str]:
    out: list[str] = []
    for t in types:
        if not out or out[-1] != t or not t.endswith(".delta"):
            out.append(t)
    return out


async def test_it_announces_the_session_when_started():
    h = Harness()

    assert h.types() == ["session.created"]
    assert h.events[0]["session"]["instructions"] == INSTRUCTIONS
    assert h.events[0]["event_id"].startswith("event_")


async def test_session_update_merges_a_partial_session():
    h = Harness()

    await h.send({"type": "session.update", "event_id": "e1", "session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}}}})

    session = h.last("session.updated")["session"]
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 800
    assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.5
    assert session["instructions"] == INSTRUCTIONS
    assert h.call.session == session


@pytest.mark.parametrize(
    ("partial", "param", "code"),
    [
        ({"type": "realtime", "audio": {"output": {"voice": "robot"}}}, "session.audio.output.voice", "invalid_value"),
        ({"type": "realtime", "model": "gpt-realtime-mini"}, "session.model", "invalid_value"),
        ({"type": "realtime", "temperature": 1}, "session.temperature", "unknown_parameter"),
        ({"instructions": "hi"}, "session.type", "missing_required_parameter"),
    ],
)
async def test_an_invalid_session_update_gives_an_error_and_changes_nothing(partial, param, code):
    h = Harness()
    before = json.dumps(h.call.session, sort_keys=True)

    await h.send({"type": "session.update", "event_id": "evt_42", "session": partial})

    error = h.last("error")["error"]
    assert (error["type"], error["param"], error["code"], error["event_id"]) == ("invalid_request_error", param, code, "evt_42")
    assert json.dumps(h.call.session, sort_keys=True) == before
    assert "session.updated" not in h.types()


async def test_the_voice_is_fixed_once_the_tutor_has_spoken():
    h = Harness()
    await h.send({"type": "response.create"})

    await h.send({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}})

    assert h.last("error")["error"]["code"] == "cannot_update_voice"


async def test_a_typed_turn_gets_a_complete_spoken_response():
    h = Harness()
    await h.send(user_text("Hola"))
    added, done = h.events[1:3]
    assert (added["type"], done["type"]) == ("conversation.item.added", "conversation.item.done")
    assert added["item"]["content"] == [{"type": "input_text", "text": "Hola"}]
    assert added["previous_item_id"] is None
    mark = len(h.events)

    await h.send({"type": "response.create"})

    assert collapse(h.types(mark)) == RESPONSE_AUDIO
    deltas = "".join(e["delta"] for e in h.of("response.output_audio_transcript.delta"))
    done = h.last("response.output_audio_transcript.done")
    assert deltas == done["transcript"] and len(h.of("response.output_audio_transcript.delta")) > 2
    response = h.last("response.done")["response"]
    assert response["status"] == "completed" and response["object"] == "realtime.response"
    assert response["output"][0]["content"] == [{"type": "output_audio", "transcript": done["transcript"]}]
    assert response["usage"]["total_tokens"] == response["usage"]["input_tokens"] + response["usage"]["output_tokens"] > 0
    assert response["usage"]["output_token_details"]["audio_tokens"] > 0
    assert h.call.items[-1]["role"] == "assistant"


async def test_the_greeting_is_honest_and_asks_for_a_focus_word():
    h = Harness()

    await h.send({"type": "response.create"})

    transcript = h.last("response.output_audio_transcript.done")["transcript"]
    assert "Parlance offline stand-in" in transcript and "not an AI" in transcript
    assert "'gato'" in transcript


async def test_the_tutor_audio_plays_between_started_and_stopped():
    h = Harness()
    await h.send({"type": "response.create"})
    response_id = h.last("response.done")["response"]["id"]

    frames = h.play_out()

    assert frames == 10  # 0.2 s of speech in 20 ms frames
    assert h.types()[-2:] == ["output_audio_buffer.started", "output_audio_buffer.stopped"]
    assert h.last("output_audio_buffer.stopped")["response_id"] == response_id


async def test_text_only_sessions_get_text_events():
    h = Harness(make_session(output_modalities=["text"]))

    await h.send({"type": "response.create"})

    types = collapse(h.types(1))
    assert "response.output_text.delta" in types and "response.output_text.done" in types
    assert not any("audio" in t for t in types)
    assert h.last("response.done")["response"]["output"][0]["content"][0]["type"] == "output_text"
    assert h.call.output.playing is None


async def test_a_focus_word_triggers_record_word_practice_and_the_answer_follows_its_output():
    h = Harness(make_session(tools=[GET_WORD_DETAILS, RECORD_WORD_PRACTICE]))
    await h.send(user_text("Tengo un gato negro"))
    mark = len(h.events)

    await h.send({"type": "response.create"})

    types = collapse(h.types(mark))
    assert types == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    done = h.last("response.function_call_arguments.done")
    assert done["name"] == "record_word_practice"
    arguments = json.loads(done["arguments"])
    assert arguments == {"word": "gato", "outcome": "correct"}
    assert "".join(e["delta"] for e in h.of("response.function_call_arguments.delta")) == done["arguments"]
    item = h.last("response.done")["response"]["output"][0]
    assert item["type"] == "function_call" and item["call_id"] == done["call_id"] and item["status"] == "completed"

    await h.send({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": done["call_id"], "output": '{"saved": true}'}})
    mark = len(h.events)
    assert "response.created" not in h.types(mark)  # it waits for response.create
    await h.send({"type": "response.create"})

    answer = h.last("response.output_audio_transcript.done")["transcript"]
    assert "'gato'" in answer
    assert h.last("response.done")["response"]["status"] == "completed"


async def test_without_record_word_practice_it_calls_the_first_tool():
    h = Harness(make_session(tools=[GET_WORD_DETAILS]))
    await h.send(user_text("la CASA es grande"))

    await h.send({"type": "response.create"})

    done = h.last("response.function_call_arguments.done")
    assert done["name"] == "get_word_details" and json.loads(done["arguments"]) == {"word": "casa"}


@pytest.mark.parametrize("tool_choice", ["none", None])
async def test_without_usable_tools_it_answers_naming_the_word(tool_choice):
    fields = {"tools": [RECORD_WORD_PRACTICE], "tool_choice": tool_choice} if tool_choice else {}
    h = Harness(make_session(**fields))
    await h.send(user_text("mi perro"))

    await h.send({"type": "response.create"})

    assert "response.function_call_arguments.done" not in h.types()
    assert "'perro'" in h.last("response.output_audio_transcript.done")["transcript"]


async def test_a_second_response_create_while_one_runs_is_refused():
    h = Harness()
    await h.call.receive(json.dumps({"type": "response.create"}))

    await h.call.receive(json.dumps({"type": "response.create", "event_id": "again"}))
    await h.call.settled()

    error = h.of("error")[0]["error"]
    assert error["code"] == "conversation_already_has_active_response" and error["event_id"] == "again"
    assert len(h.of("response.done")) == 1


async def test_response_cancel_ends_the_running_response():
    h = Harness()
    await h.call.receive(json.dumps({"type": "response.create"}))

    await h.call.receive(json.dumps({"type": "response.cancel"}))
    await h.call.settled()

    response = h.last("response.done")["response"]
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert len(h.of("response.done")) == 1
    assert "response.output_audio_transcript.done" not in h.types()
    await h.send({"type": "response.create"})  # and the call goes on
    assert h.last("response.done")["response"]["status"] == "completed"


async def test_response_cancel_without_a_response_is_an_error():
    h = Harness()

    await h.send({"type": "response.cancel"})

    assert h.last("error")["error"]["code"] == "response_cancel_not_active"


async def test_output_audio_buffer_clear_stops_the_tutor_audio():
    h = Harness()
    await h.send({"type": "response.create"})
    h.call.output.next_frame()
    playing = h.call.output.playing

    await h.send({"type": "output_audio_buffer.clear"})

    assert h.last("output_audio_buffer.cleared")["response_id"] == playing
    assert h.call.output.playing is None
    assert h.call.output.next_frame() == bytes(1920)


BAD_INPUT = [
    ("not json at all", "invalid_json"),
    ("[1, 2, 3]", "invalid_event"),
    ('{"event_id": "x"}', "missing_required_parameter"),
    ('{"type": "response.audio.delta"}', "invalid_value"),
    ('{"type": "conversation.item.created"}', "invalid_value"),
    ('{"type": "conversation.item.create"}', "missing_required_parameter"),
    ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user"}}', "missing_required_parameter"),
    ('{"type": "conversation.item.create", "item": {"type": "message", "role": "robot", "content": []}}', "invalid_value"),
    ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]}}', "invalid_value"),
    ('{"type": "conversation.item.create", "item": {"type": "function_call_output", "output": "x"}}', "missing_required_parameter"),
    ('{"type": "conversation.item.create", "item": {"type": "image"}}', "invalid_value"),
    ('{"type": "session.update"}', "missing_required_parameter"),
    ('{"type": "response.create", "response": {"temperature": 0.2}}', "unknown_parameter"),
    ('{"type": "conversation.item.delete", "item_id": "item_missing"}', "item_not_found"),
    ('{"type": "input_audio_buffer.commit"}', "input_audio_buffer_commit_empty"),
    (b"\x00\x01binary", "invalid_event"),
    ('{"type": "session.update", "session": {"type": "realtime", "instructions": "' + "x" * MAX_EVENT_BYTES + '"}}', "message_too_large"),
]


@pytest.mark.parametrize(("message", "code"), BAD_INPUT, ids=[c + str(i) for i, (_, c) in enumerate(BAD_INPUT)])
async def test_bad_input_gives_an_error_event_and_the_call_stays_up(message, code):
    h = Harness(make_session(audio={"input": {"turn_detection": None}}))

    await h.send(message)

    error = h.last("error")
    assert set(error) == {"type", "event_id", "error"}
    assert set(error["error"]) == {"type", "code", "message", "param", "event_id"}
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["code"] == code
    await h.send({"type": "response.create"})
    assert h.last("response.done")["response"]["status"] == "completed"


async def test_items_can_be_placed_retrieved_and_deleted():
    h = Harness()
    await h.send(user_text("one") | {"event_id": "a"})
    first = h.call.items[0]["id"]
    await h.send({"type": "conversation.item.create", "previous_item_id": "root", "item": {"id": "item_zero", "type": "message", "role": "system", "content": [{"type": "input_text", "text": "zero"}]}})
    assert [i["id"] for i in h.call.items] == ["item_zero", first]

    await h.send({"type": "conversation.item.retrieve", "item_id": first})
    assert h.last("conversation.item.retrieved")["item"]["content"][0]["text"] == "one"
    await h.send({"type": "conversation.item.create", "item": {"id": "item_zero", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "dup"}]}})
    assert h.last("error")["error"]["code"] == "duplicate_item_id"
    await h.send({"type": "conversation.item.delete", "item_id": "item_zero"})
    assert h.last("conversation.item.deleted")["item_id"] == "item_zero"
    assert [i["id"] for i in h.call.items] == [first]


async def test_max_output_tokens_cuts_the_reply_short():
    h = Harness()

    await h.send({"type": "response.create", "response": {"max_output_tokens": 3}})

    response = h.last("response.done")["response"]
    assert response["status"] == "incomplete"
    assert response["status_details"]["reason"] == "max_output_tokens"
    assert len(h.last("response.output_audio_transcript.done")["transcript"]) <= 12


async def test_an_out_of_band_response_leaves_the_conversation_alone():
    h = Harness()

    await h.send({"type": "response.create", "response": {"conversation": "none", "output_modalities": ["text"], "metadata": {"topic": "x"}}})

    response = h.last("response.done")["response"]
    assert response["conversation_id"] is None and response["metadata"] == {"topic": "x"}
    assert h.call.items == [] and "conversation.item.added" not in h.types()


# --- audio turns ------------------------------------------------------------------------------


def voice_session(**turn_detection):
    return make_session(
        tools=[RECORD_WORD_PRACTICE],
        audio={
            "input": {
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {"type": "server_vad", **turn_detection},
            }
        },
    )


async def test_a_voice_turn_is_detected_committed_transcribed_and_answered():
    h = Harness(voice_session())

    await h.feed(pcm_silence(1.0) + pcm_tone(1.2) + pcm_silence(1.0))

    types = h.types()
    expected = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "response.output_item.added",
    ]
    assert [t for t in types if t in expected][: len(expected)] == expected
    started, stopped = h.last("input_audio_buffer.speech_started"), h.last("input_audio_buffer.speech_stopped")
    assert started["audio_start_ms"] == 700  # speech at 1000 ms minus 300 ms of padding
    assert stopped["audio_end_ms"] == 2700  # speech ends at 2200 ms, plus 500 ms of silence
    assert started["item_id"] == stopped["item_id"] == h.last("input_audio_buffer.committed")["item_id"]
    completed = h.last("conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == "the word is gato" and completed["item_id"] == started["item_id"]
    assert h.transcribed == [(2 * 16 * 2000, ["gato", "perro", "casa"])]  # the turn: 2000 ms of audio
    assert json.loads(h.last("response.function_call_arguments.done")["arguments"])["word"] == "gato"


async def test_vad_settings_from_the_session_are_honoured():
    h = Harness(voice_session(prefix_padding_ms=100, silence_duration_ms=200, threshold=0.9))

    await h.feed(pcm_silence(1.0) + pcm_tone(1.0, amplitude=4000) + pcm_silence(1.0))
    assert "input_audio_buffer.speech_started" not in h.types()  # 0.9 needs a louder voice

    await h.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 100, "silence_duration_ms": 200}}}}})
    await h.feed(pcm_silence(1.0) + pcm_tone(1.0, amplitude=4000) + pcm_silence(1.0))

    assert h.last("input_audio_buffer.speech_started")["audio_start_ms"] == 3900
    assert h.last("input_audio_buffer.speech_stopped")["audio_end_ms"] == 5200


async def test_unrecognised_speech_gets_an_honest_placeholder():
    h = Harness(voice_session(), transcript="")

    await h.feed(pcm_silence(0.5) + pcm_tone(1.4) + pcm_silence(1.0))

    assert h.last("conversation.item.input_audio_transcription.completed")["transcript"] == "[speech 2.2 s]"
    assert "could not make out" in h.last("response.output_audio_transcript.done")["transcript"]


async def test_a_failing_recogniser_reports_transcription_failed():
    h = Harness(voice_session(), transcript=RuntimeError("decoder broke"))

    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    failed = h.last("conversation.item.input_audio_transcription.failed")
    assert failed["error"]["message"] == "decoder broke"
    assert "conversation.item.input_audio_transcription.completed" not in h.types()
    assert h.last("response.done")["response"]["status"] == "completed"


async def test_without_transcription_configured_there_are_no_transcription_events():
    h = Harness(make_session())

    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    assert not any("transcription" in t for t in h.types())
    assert "response.done" in h.types()


async def test_create_response_false_commits_without_answering():
    h = Harness(voice_session(create_response=False))

    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))

    assert "input_audio_buffer.committed" in h.types()
    assert "response.created" not in h.types()


async def test_speaking_over_the_tutor_interrupts_it():
    h = Harness(voice_session())
    await h.send({"type": "response.create"})
    h.call.output.next_frame()
    playing = h.call.output.playing

    await h.feed(pcm_tone(0.3))

    assert h.last("output_audio_buffer.cleared")["response_id"] == playing
    assert h.call.output.playing is None


async def test_push_to_talk_commits_on_request():
    h = Harness(make_session(tools=[RECORD_WORD_PRACTICE], audio={"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}))
    await h.feed(pcm_silence(0.2) + pcm_tone(0.5) + pcm_silence(0.2))
    assert "input_audio_buffer.speech_started" not in h.types()

    await h.send({"type": "input_audio_buffer.commit"})
    assert "response.created" not in h.types()
    await h.send({"type": "response.create"})

    committed = h.last("input_audio_buffer.committed")
    assert h.last("conversation.item.input_audio_transcription.completed")["item_id"] == committed["item_id"]
    assert h.transcribed[0][0] == 2 * 16 * 900
    assert h.last("response.function_call_arguments.done")["name"] == "record_word_practice"


async def test_input_audio_buffer_clear_drops_the_audio():
    h = Harness(make_session(audio={"input": {"turn_detection": None}}))
    await h.feed(pcm_tone(0.5))

    await h.send({"type": "input_audio_buffer.clear"})
    await h.send({"type": "input_audio_buffer.commit"})

    assert "input_audio_buffer.cleared" in h.types()
    assert h.last("error")["error"]["code"] == "input_audio_buffer_commit_empty"


async def test_a_manual_commit_under_server_vad_commits_the_audio_so_far():
    h = Harness(voice_session())
    await h.feed(pcm_tone(0.3))  # speech under way, not yet ended by silence

    await h.send({"type": "input_audio_buffer.commit"})

    committed = h.last("input_audio_buffer.committed")
    assert committed["item_id"] == h.last("input_audio_buffer.speech_started")["item_id"]
    assert h.transcribed[-1][0] == 2 * 16 * 300
    await h.feed(pcm_silence(1.0))
    assert len(h.of("input_audio_buffer.committed")) == 1  # the VAD does not commit it again
