"""The transcription's logprobs, as the GA Realtime API sends them when the session includes
``item.input_audio_transcription.logprobs``: a list of ``{token, logprob, bytes}`` on
``conversation.item.input_audio_transcription.delta`` and ``.completed``.

The event models of the official ``openai`` SDK are generated from OpenAI's OpenAPI spec
(``LogProbProperties``: ``token`` string, ``logprob`` number, ``bytes`` array of integers), so the
events are checked against them and against the spec's field list exactly.
"""

from __future__ import annotations

import math

import pytest
from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
)
from openai.types.realtime.log_prob_properties import LogProbProperties

from standin import config
from standin.call import transcript_logprobs
from standin.transcribe import Recognition
from tests.standin.helpers import RECORD_WORD_PRACTICE
from tests.standin.test_call_protocol import Harness, make_session, pcm_silence, pcm_tone

LOGPROBS = "item.input_audio_transcription.logprobs"
COMPLETED = "conversation.item.input_audio_transcription.completed"
DELTA = "conversation.item.input_audio_transcription.delta"


def session(include=(LOGPROBS,)):
    fields = {} if include is None else {"include": list(include)}
    return make_session(
        tools=[RECORD_WORD_PRACTICE],
        audio={"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}, "turn_detection": {"type": "server_vad"}}},
        **fields,
    )


async def spoken_turn(h: Harness) -> None:
    await h.feed(pcm_silence(0.5) + pcm_tone(1.0) + pcm_silence(1.0))


def test_the_spec_fields_of_a_logprob_are_token_logprob_and_bytes():
    assert set(LogProbProperties.model_fields) == {"token", "logprob", "bytes"}


def test_a_session_may_ask_for_the_logprobs_and_nothing_else():
    assert session()["include"] == [LOGPROBS]
    with pytest.raises(config.InvalidRequest):
        session(include=["item.input_audio_transcription.words"])


async def test_the_completed_transcription_carries_a_logprob_for_each_word():
    recognition = Recognition("the word is niño", [("the", 0.0), ("word", 0.0), ("is", -0.05), ("niño", math.log(0.4))])
    h = Harness(session(), transcript=recognition)

    await spoken_turn(h)

    completed = h.last(COMPLETED)
    ConversationItemInputAudioTranscriptionCompletedEvent.model_validate(completed)
    logprobs = completed["logprobs"]
    assert all(set(entry) == {"token", "logprob", "bytes"} for entry in logprobs)
    assert [entry["token"] for entry in logprobs] == ["the", " word", " is", " niño"]
    assert "".join(entry["token"] for entry in logprobs) == completed["transcript"]
    assert all(entry["bytes"] == list(entry["token"].encode("utf-8")) for entry in logprobs)
    assert logprobs[-1]["logprob"] == pytest.approx(math.log(0.4))
    delta = h.last(DELTA)
    ConversationItemInputAudioTranscriptionDeltaEvent.model_validate(delta)
    assert delta["logprobs"] == logprobs


async def test_a_recogniser_without_confidences_is_taken_as_sure():
    h = Harness(session(), transcript="the word is gato")

    await spoken_turn(h)

    assert [entry["logprob"] for entry in h.last(COMPLETED)["logprobs"]] == [0.0] * 4


@pytest.mark.parametrize("include", [None, []])
async def test_without_the_include_there_are_no_logprobs(include):
    h = Harness(session(include=include))

    await spoken_turn(h)

    completed = h.last(COMPLETED)
    ConversationItemInputAudioTranscriptionCompletedEvent.model_validate(completed)
    assert "logprobs" not in completed and "logprobs" not in h.last(DELTA)


async def test_a_session_update_can_turn_the_logprobs_on():
    h = Harness(session(include=None))
    await h.send({"type": "session.update", "session": {"type": "realtime", "include": [LOGPROBS]}})

    await spoken_turn(h)

    assert len(h.last(COMPLETED)["logprobs"]) == 4


async def test_the_placeholder_for_unrecognised_speech_has_no_tokens():
    h = Harness(session(), transcript="")

    await spoken_turn(h)

    completed = h.last(COMPLETED)
    assert completed["transcript"].startswith("[speech") and completed["logprobs"] == []


def test_tokens_join_to_the_transcript_with_their_utf8_bytes():
    assert transcript_logprobs([("¿qué", -0.1), ("tal?", 0.0)]) == [
        {"token": "¿qué", "logprob": -0.1, "bytes": list("¿qué".encode())},
        {"token": " tal?", "logprob": 0.0, "bytes": list(" tal?".encode())},
    ]
    assert transcript_logprobs([]) == []
