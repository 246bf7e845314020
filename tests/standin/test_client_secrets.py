"""POST /v1/realtime/client_secrets: server key, OpenAI-style validation, the minted key."""

from __future__ import annotations

import json
import time

import pytest
from django.test import AsyncClient

from standin.models import ClientSecret
from tests.standin.helpers import BASE, RECORD_WORD_PRACTICE, SERVER_KEY, bearer, mint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("standin_settings")]

URL = f"{BASE}/client_secrets"


async def post(body, headers=None, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return await AsyncClient().post(URL, data=data, content_type=content_type, headers=headers or bearer(SERVER_KEY))


def assert_openai_error(response, status, *, param=None, code=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


async def test_it_mints_an_ephemeral_key_with_the_default_session():
    before = int(time.time())
    body = await mint(AsyncClient())

    assert body["value"].startswith("ek_") and len(body["value"]) > 20
    assert before + 600 - 2 <= body["expires_at"] <= int(time.time()) + 600 + 2
    session = body["session"]
    assert session["object"] == "realtime.session"
    assert session["id"].startswith("sess_")
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["tools"] == [] and session["tool_choice"] == "auto"
    stored = await ClientSecret.objects.aget(value=body["value"])
    assert stored.session == session


async def test_it_keeps_what_the_request_sets_and_fills_the_rest():
    body = await mint(
        AsyncClient(),
        {
            "expires_after": {"anchor": "created_at", "seconds": 10},
            "session": {
                "type": "realtime",
                "model": "gpt-realtime-mini",
                "instructions": "Focus words: gato",
                "output_modalities": ["text"],
                "audio": {
                    "input": {
                        "transcription": {"model": "gpt-4o-mini-transcribe", "language": "es"},
                        "turn_detection": {"type": "server_vad", "threshold": 0.7},
                    },
                    "output": {"voice": "cedar", "speed": 1.25},
                },
                "tools": [RECORD_WORD_PRACTICE],
                "tool_choice": {"type": "function", "name": "record_word_practice"},
                "max_output_tokens": 200,
            },
        },
    )

    assert body["expires_at"] - time.time() == pytest.approx(10, abs=2)
    session = body["session"]
    assert session["model"] == "gpt-realtime-mini"
    assert session["instructions"] == "Focus words: gato"
    assert session["output_modalities"] == ["text"]
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe", "language": "es"}
    assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.7
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
    assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar", "speed": 1.25}
    assert session["tools"] == [RECORD_WORD_PRACTICE]
    assert session["max_output_tokens"] == 200


async def test_it_accepts_semantic_vad_and_manual_turns():
    semantic = await mint(
        AsyncClient(),
        {"session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}}},
    )
    manual = await mint(AsyncClient(), {"session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}})

    assert semantic["session"]["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }
    assert manual["session"]["audio"]["input"]["turn_detection"] is None


async def test_it_refuses_a_request_without_a_key():
    response = await AsyncClient().post(URL, data="{}", content_type="application/json")

    assert_openai_error(response, 401)
    assert await ClientSecret.objects.acount() == 0


@pytest.mark.parametrize("header", ["Bearer sk-wrong-key-123456", "Basic c2stc3RhbmRpbg==", "Bearer ", "sk-standin-test"])
async def test_it_refuses_a_wrong_key(header):
    response = await post({}, headers={"Authorization": header})

    assert_openai_error(response, 401)
    assert await ClientSecret.objects.acount() == 0


async def test_it_refuses_an_ephemeral_key_as_the_server_key():
    minted = await mint(AsyncClient())

    response = await post({}, headers=bearer(minted["value"]))

    assert_openai_error(response, 401, code="invalid_api_key")


def session(**fields):
    return {"session": {"type": "realtime", **fields}}


def audio_input(**fields):
    return session(audio={"input": fields})


INVALID = [
    ({"expires_after": {"seconds": 9}}, "expires_after.seconds", "integer_below_min_value"),
    ({"expires_after": {"seconds": 7201}}, "expires_after.seconds", "integer_above_max_value"),
    ({"expires_after": {"seconds": "600"}}, "expires_after.seconds", "invalid_type"),
    ({"expires_after": {"anchor": "now", "seconds": 60}}, "expires_after.anchor", "invalid_value"),
    ({"expires_after": 60}, "expires_after", "invalid_type"),
    ({"lifetime": 60}, "lifetime", "unknown_parameter"),
    ({"session": {"model": "gpt-realtime"}}, "session.type", "missing_required_parameter"),
    ({"session": {"type": "voice"}}, "session.type", "invalid_value"),
    ({"session": {"type": "transcription"}}, "session.type", "invalid_value"),
    (session(model="gpt-5"), "session.model", "invalid_value"),
    (session(temperature=0.8), "session.temperature", "unknown_parameter"),
    (session(instructions=42), "session.instructions", "invalid_type"),
    (session(output_modalities=["audio", "text"]), "session.output_modalities", "invalid_value"),
    (session(output_modalities=["video"]), "session.output_modalities", "invalid_value"),
    (audio_input(format={"type": "audio/pcm", "rate": 16000}), "session.audio.input.format.rate", "invalid_value"),
    (audio_input(format={"type": "audio/wav"}), "session.audio.input.format.type", "invalid_value"),
    (audio_input(format={"rate": 24000}), "session.audio.input.format.type", "missing_required_parameter"),
    (audio_input(transcription={"model": "whisper-9"}), "session.audio.input.transcription.model", "invalid_value"),
    (audio_input(transcription={"model": "whisper-1", "language": "Spanish"}), "session.audio.input.transcription.language", "invalid_value"),
    (audio_input(noise_reduction={"type": "studio"}), "session.audio.input.noise_reduction.type", "invalid_value"),
    (audio_input(turn_detection={"type": "loudness"}), "session.audio.input.turn_detection.type", "invalid_value"),
    (audio_input(turn_detection={"threshold": 0.5}), "session.audio.input.turn_detection.type", "missing_required_parameter"),
    (audio_input(turn_detection={"type": "server_vad", "threshold": 1.5}), "session.audio.input.turn_detection.threshold", "decimal_above_max_value"),
    (audio_input(turn_detection={"type": "server_vad", "threshold": -0.1}), "session.audio.input.turn_detection.threshold", "decimal_below_min_value"),
    (audio_input(turn_detection={"type": "server_vad", "silence_duration_ms": -5}), "session.audio.input.turn_detection.silence_duration_ms", "integer_below_min_value"),
    (audio_input(turn_detection={"type": "server_vad", "prefix_padding_ms": "300"}), "session.audio.input.turn_detection.prefix_padding_ms", "invalid_type"),
    (audio_input(turn_detection={"type": "server_vad", "idle_timeout_ms": 1000}), "session.audio.input.turn_detection.idle_timeout_ms", "integer_below_min_value"),
    (audio_input(turn_detection={"type": "server_vad", "eagerness": "high"}), "session.audio.input.turn_detection.eagerness", "unknown_parameter"),
    (audio_input(turn_detection={"type": "semantic_vad", "eagerness": "eager"}), "session.audio.input.turn_detection.eagerness", "invalid_value"),
    (audio_input(turn_detection={"type": "server_vad", "create_response": "yes"}), "session.audio.input.turn_detection.create_response", "invalid_type"),
    (session(audio={"output": {"voice": "nova"}}), "session.audio.output.voice", "invalid_value"),
    (session(audio={"output": {"speed": 2.0}}), "session.audio.output.speed", "decimal_above_max_value"),
    (session(audio={"output": {"speed": 0.1}}), "session.audio.output.speed", "decimal_below_min_value"),
    (session(audio={"speakers": {}}), "session.audio.speakers", "unknown_parameter"),
    (session(tools={"type": "function"}), "session.tools", "invalid_type"),
    (session(tools=[{"type": "function"}]), "session.tools[0].name", "missing_required_parameter"),
    (session(tools=[{"type": "code_interpreter"}]), "session.tools[0].type", "invalid_value"),
    (session(tools=[{"type": "function", "name": "has space"}]), "session.tools[0].name", "invalid_value"),
    (session(tools=[{"type": "function", "function": {"name": "nested"}}]), "session.tools[0].function", "unknown_parameter"),
    (session(tools=[{"type": "function", "name": "f", "parameters": {"type": "string"}}]), "session.tools[0].parameters", "invalid_function_parameters"),
    (session(tools=[{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]), "session.tools[1].name", "invalid_value"),
    (session(tool_choice="sometimes"), "session.tool_choice", "invalid_value"),
    (session(tool_choice={"type": "function"}), "session.tool_choice.name", "missing_required_parameter"),
    (session(max_output_tokens=0), "session.max_output_tokens", "integer_below_min_value"),
    (session(max_output_tokens=5000), "session.max_output_tokens", "integer_above_max_value"),
    (session(truncation="sometimes"), "session.truncation", "invalid_value"),
]


@pytest.mark.parametrize(("body", "param", "code"), INVALID, ids=[f"{p}-{c}" for _, p, c in INVALID])
async def test_it_refuses_an_invalid_body_like_openai(body, param, code):
    response = await post(body)

    assert_openai_error(response, 400, param=param, code=code)
    assert await ClientSecret.objects.acount() == 0


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"text"'])
async def test_it_refuses_a_body_that_is_not_a_json_object(data):
    response = await post(data)

    assert_openai_error(response, 400)


async def test_it_answers_a_cors_preflight():
    response = await AsyncClient().options(
        URL,
        headers={
            "Origin": "http://127.0.0.1:9999",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response["Access-Control-Allow-Headers"]


async def test_it_only_takes_post():
    response = await AsyncClient().get(URL, headers=bearer(SERVER_KEY))

    assert_openai_error(response, 405)
