"""``/standin/v1/realtime`` over WebSocket, driven by the official ``openai`` SDK against daphne:
sidebands on calls opened over WebRTC (``connect(call_id=…)``) and whole sessions (``connect(model=…)``)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import openai
import pytest
import websockets
from django.conf import settings
from websockets.exceptions import ConnectionClosed

from standin import speech
from tests.standin.helpers import INSTRUCTIONS, RECORD_WORD_PRACTICE
from tests.standin.rtc import RealtimeCaller
from tests.support.browser import speech_tools_missing_reason, speech_wav

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 15.0


def client(server, key=None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=key or settings.STANDIN_API_KEY,
        base_url=f"{server.base_url}/standin/v1",
        websocket_base_url=f"ws://127.0.0.1:{server.port}/standin/v1",
        max_retries=0,
    )


def user_text(text: str) -> dict:
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}


class Socket:
    """An SDK connection and the raw events it has received."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.events: list[dict] = []
        self.close_code: int | None = None

    async def next(self, event_type: str, *, timeout: float = TIMEOUT) -> dict:
        """Read until an event of ``event_type`` (already read ones count)."""
        found = next((e for e in self.events if e["type"] == event_type), None)
        while found is None:
            event = json.loads(await asyncio.wait_for(self.connection.recv_bytes(), timeout))
            self.connection.parse_event(json.dumps(event))  # the SDK reads it as a known event
            self.events.append(event)
            if event["type"] == event_type:
                found = event
        return found

    async def until(self, event_type: str, predicate, *, timeout: float = TIMEOUT) -> dict:
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["type"] == event_type and predicate(event):
                    return event
            seen = len(self.events)
            self.events.append(json.loads(await asyncio.wait_for(self.connection.recv_bytes(), timeout)))

    async def until_closed(self, *, timeout: float = TIMEOUT) -> int:
        try:
            while True:
                self.events.append(json.loads(await asyncio.wait_for(self.connection.recv_bytes(), timeout)))
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
        return self.close_code

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]


async def open_call(server, session: dict, *, audio: bool = False, secret: str | None = None) -> tuple[RealtimeCaller, str]:
    if secret is None:
        secret = (await client(server).realtime.client_secrets.create(session=session)).value
    caller = RealtimeCaller(audio=audio)
    raw = await client(server, key=secret).realtime.calls.with_raw_response.create(sdp=await caller.offer())
    await caller.accept(raw.parse().text)
    await caller.wait_for("session.created")
    return caller, raw.headers["location"].rsplit("/", 1)[-1]


async def sideband(server, call_id: str, key: str | None = None) -> Socket:
    return Socket(await client(server, key=key).realtime.connect(call_id=call_id).enter())


# --- sidebands --------------------------------------------------------------------------------


async def test_a_sideband_sees_exactly_the_data_channel_events_of_a_typed_turn(daphne_server):
    caller, call_id = await open_call(daphne_server, {"type": "realtime", "instructions": INSTRUCTIONS})
    try:
        band = await sideband(daphne_server, call_id)
        created = await band.next("session.created")
        assert created["session"]["instructions"] == INSTRUCTIONS
        mark = len(caller.events)

        caller.send(user_text("Hola, tengo una casa"))
        caller.send({"type": "response.create"})
        done = await band.next("response.done")
        await caller.wait_for("response.done", after=mark)

        channel = [e for e in caller.events[mark:] if e["type"] != "output_audio_buffer.started"]
        seen = [e for e in band.events[1 : len(band.events)] if e["type"] != "output_audio_buffer.started"]
        assert [e["event_id"] for e in seen] == [e["event_id"] for e in channel[: len(seen)]]
        assert seen == channel[: len(seen)]  # the very same events, in the same order
        assert "'casa'" in done["response"]["output"][0]["content"][0]["transcript"]
        assert done["response"]["conversation_id"].startswith("conv_")
        await band.connection.close()
    finally:
        await caller.close()


async def test_a_sideband_answers_the_tutors_function_call_and_the_tutor_goes_on(daphne_server):
    session = {"type": "realtime", "instructions": INSTRUCTIONS, "tools": [RECORD_WORD_PRACTICE], "output_modalities": ["text"]}
    caller, call_id = await open_call(daphne_server, session)
    try:
        band = await sideband(daphne_server, call_id)
        await band.next("session.created")
        caller.send(user_text("El perro come"))
        caller.send({"type": "response.create"})

        call = await band.until("response.output_item.done", lambda e: e["item"]["type"] == "function_call")
        assert json.loads(call["item"]["arguments"]) == {"word": "perro", "outcome": "correct"}
        await band.next("response.done")
        await band.connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": call["item"]["call_id"], "output": '{"ok": true}'}
        )
        await band.connection.response.create()

        answer = await caller.wait_for("response.output_text.done")
        assert "'perro'" in answer["text"]
        added = await caller.wait_for("conversation.item.added", lambda e: e["item"]["type"] == "function_call_output")
        assert added["item"]["call_id"] == call["item"]["call_id"]
        # the sideband saw the answer too (read it all: unread frames would hold up its close)
        assert (await band.until("response.output_text.done", lambda e: True))["text"] == answer["text"]
        await band.until("response.done", lambda e: e["response"]["id"] == answer["response_id"])
        await band.connection.close()
    finally:
        await caller.close()


async def test_two_sidebands_each_get_every_event_and_close_when_the_call_is_hung_up(daphne_server):
    caller, call_id = await open_call(daphne_server, {"type": "realtime", "instructions": INSTRUCTIONS, "output_modalities": ["text"]})
    try:
        first, second = await sideband(daphne_server, call_id), await sideband(daphne_server, call_id)
        await first.next("session.created")
        await second.next("session.created")
        await first.connection.response.create()  # a client event from one sideband
        await first.next("response.done")
        await second.next("response.done")
        assert [e["event_id"] for e in first.events[1:]] == [e["event_id"] for e in second.events[1:]]

        await client(daphne_server).realtime.calls.hangup(call_id)

        assert await first.until_closed() == 1000
        assert await second.until_closed() == 1000
        await asyncio.wait_for(caller.closed.wait(), TIMEOUT)
    finally:
        await caller.close()


async def test_a_sideband_closes_when_the_browser_goes_away(daphne_server):
    caller, call_id = await open_call(daphne_server, {"type": "realtime", "instructions": INSTRUCTIONS})
    band = await sideband(daphne_server, call_id)
    await band.next("session.created")

    await caller.close()

    assert await band.until_closed() == 1000
    with pytest.raises(openai.NotFoundError):
        await client(daphne_server).realtime.calls.hangup(call_id)


async def test_a_sideband_on_an_unknown_call_gets_call_id_not_found(daphne_server):
    band = await sideband(daphne_server, "rtc_nosuchcall")

    assert await band.until_closed() == 4004
    assert band.events[0]["error"]["code"] == "call_id_not_found"


async def test_a_sideband_with_a_wrong_key_is_refused_as_unauthorized(daphne_server):
    caller, call_id = await open_call(daphne_server, {"type": "realtime", "instructions": INSTRUCTIONS})
    try:
        band = await sideband(daphne_server, call_id, key="sk-not-the-key")
        assert await band.until_closed() == 3000
        assert band.events[0]["error"]["code"] == "invalid_api_key"
        assert "sk-not-the-key" not in json.dumps(band.events)

        secret = await client(daphne_server).realtime.client_secrets.create(session={"type": "realtime"})
        with_ek = await sideband(daphne_server, call_id, key=secret.value)
        assert await with_ek.until_closed() == 4004  # as OpenAI answers an ek_ sideband
        assert with_ek.events[0]["error"]["code"] == "call_id_not_found"
        await client(daphne_server).realtime.calls.hangup(call_id)  # the refused joins left the call alone
    finally:
        await caller.close()


async def test_a_sideband_without_a_key_is_refused(daphne_server):
    async with websockets.connect(f"ws://127.0.0.1:{daphne_server.port}/standin/v1/realtime?call_id=rtc_x") as socket:
        error = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), TIMEOUT)
    assert error["error"]["code"] == "invalid_api_key" and "didn't provide an API key" in error["error"]["message"]
    assert closed.value.rcvd.code == 3000


async def test_the_tutors_audio_starts_playing_before_response_done(daphne_server):
    caller, call_id = await open_call(daphne_server, {"type": "realtime", "instructions": INSTRUCTIONS}, audio=True)
    try:
        mark = len(caller.events)
        caller.send({"type": "response.create"})
        done = await caller.wait_for("response.done", after=mark)

        types = caller.types()[mark:]
        assert "output_audio_buffer.started" in types  # already playing when the response is done
        assert types.index("output_audio_buffer.started") < types.index("response.done")
        assert "output_audio_buffer.stopped" not in types  # and still playing: the greeting lasts seconds
        started = next(e for e in caller.events[mark:] if e["type"] == "output_audio_buffer.started")
        assert started["response_id"] == done["response"]["id"]
        parts = [e["part"]["type"] for e in caller.events[mark:] if e["type"].startswith("response.content_part.")]
        assert parts == ["audio", "audio"]
    finally:
        await caller.close()


async def test_one_client_secret_opens_several_calls(daphne_server):
    secret = await client(daphne_server).realtime.client_secrets.create(session={"type": "realtime", "instructions": INSTRUCTIONS})
    callers = [RealtimeCaller(audio=False), RealtimeCaller(audio=False)]
    try:
        ids = []
        for caller in callers:
            raw = await client(daphne_server, key=secret.value).realtime.calls.with_raw_response.create(sdp=await caller.offer())
            await caller.accept(raw.parse().text)
            ids.append(raw.headers["location"].rsplit("/", 1)[-1])
            assert (await caller.wait_for("session.created"))["session"]["instructions"] == INSTRUCTIONS
        assert ids[0] != ids[1]
        async with client(daphne_server, key=secret.value).realtime.connect(model="gpt-realtime") as connection:
            socket = Socket(connection)
            assert (await socket.next("session.created"))["session"]["instructions"] == INSTRUCTIONS
    finally:
        for caller in callers:
            await caller.close()


# --- a whole session over the socket ----------------------------------------------------------


async def test_a_typed_turn_over_a_socket_streams_audio_deltas_before_response_done(daphne_server):
    async with client(daphne_server).realtime.connect(model="gpt-realtime") as connection:
        socket = Socket(connection)
        created = await socket.next("session.created")
        assert created["session"]["model"] == "gpt-realtime"
        await connection.session.update(session={"type": "realtime", "instructions": INSTRUCTIONS})
        await socket.next("session.updated")
        await connection.send(user_text("Hola, tengo una casa"))
        await connection.response.create()

        done = await socket.next("response.done")
        types = socket.types()
        assert types.index("response.output_audio.delta") < types.index("response.output_audio.done") < types.index("response.done")
        audio = b"".join(base64.b64decode(e["delta"]) for e in socket.events if e["type"] == "response.output_audio.delta")
        assert len(audio) > 24000  # more than half a second of 24 kHz PCM16
        assert "output_audio_buffer.started" not in types  # WebRTC only
        assert [e["part"]["type"] for e in socket.events if e["type"].startswith("response.content_part.")] == ["audio", "audio"]
        assert done["response"]["conversation_id"].startswith("conv_")
        assert socket.events[types.index("response.created")]["response"]["conversation_id"] == done["response"]["conversation_id"]
        assert "'casa'" in done["response"]["output"][0]["content"][0]["transcript"]


@pytest.mark.skipif(bool(speech_tools_missing_reason()), reason="espeak-ng/sox missing")
async def test_an_audio_turn_over_a_socket_is_transcribed_and_answered(daphne_server, tmp_path: Path):
    wav = speech_wav("the word is gato", tmp_path)
    pcm, rate = speech.wav_pcm(Path(wav).read_bytes())
    pcm24 = speech.resample(pcm, rate, 24000)
    silence = bytes(24000 * 2)  # one second
    async with client(daphne_server).realtime.connect(model="gpt-realtime") as connection:
        socket = Socket(connection)
        await socket.next("session.created")
        await connection.session.update(
            session={
                "type": "realtime",
                "instructions": INSTRUCTIONS,
                "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
            }
        )
        await socket.next("session.updated")
        stream = silence + pcm24 + silence + silence
        for start in range(0, len(stream), 4800):  # 100 ms appends
            await connection.input_audio_buffer.append(audio=base64.b64encode(stream[start : start + 4800]).decode())

        completed = await socket.next("conversation.item.input_audio_transcription.completed")
        done = await socket.next("response.done", timeout=30)
        assert "gato" in completed["transcript"]
        committed = await socket.next("input_audio_buffer.committed")
        assert committed["item_id"] == completed["item_id"]
        assert "response.output_audio.delta" in socket.types()
        assert done["response"]["status"] == "completed"


async def test_a_browser_style_socket_authenticates_with_an_ek_key_in_the_subprotocols(daphne_server):
    secret = await client(daphne_server).realtime.client_secrets.create(session={"type": "realtime", "instructions": INSTRUCTIONS})
    url = f"ws://127.0.0.1:{daphne_server.port}/standin/v1/realtime?model=gpt-realtime"
    protocols = ["realtime", f"openai-insecure-api-key.{secret.value}", "openai-agents-sdk.0.0.1"]
    async with websockets.connect(url, subprotocols=protocols, origin="http://elsewhere.example") as socket:
        assert socket.subprotocol == "realtime"
        created = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
        assert created["type"] == "session.created" and created["session"]["instructions"] == INSTRUCTIONS

        await socket.send("not json")
        assert json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))["error"]["code"] == "invalid_json"
        await socket.send(b"\x00\x01")
        assert json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))["error"]["code"] == "invalid_event"
        await socket.send(json.dumps({"type": "input_audio_buffer.append", "audio": "***"}))
        assert json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))["error"]["param"] == "audio"
        await socket.send(json.dumps({"type": "output_audio_buffer.clear"}))
        assert json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))["type"] == "error"
        await socket.send(json.dumps({"type": "response.create"}))  # still open after all that
        while (event := json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT)))["type"] != "response.done":
            pass
        assert event["response"]["status"] == "completed"


@pytest.mark.parametrize(
    ("query", "key", "code", "error_code"),
    [
        ("model=gpt-realtime", "sk-not-the-key", 3000, "invalid_api_key"),
        ("model=gpt-realtime", "ek_expired_or_made_up", 3000, "invalid_api_key"),
        ("", None, 4000, "missing_required_parameter"),
        ("model=gpt-nonsense", None, 4000, "invalid_value"),
    ],
)
async def test_a_socket_session_is_refused_with_an_error_then_a_close(daphne_server, query, key, code, error_code):
    headers = {"Authorization": f"Bearer {key or settings.STANDIN_API_KEY}"}
    url = f"ws://127.0.0.1:{daphne_server.port}/standin/v1/realtime?{query}"
    async with websockets.connect(url, additional_headers=headers) as socket:
        error = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), TIMEOUT)
    assert error["type"] == "error" and error["error"]["code"] == error_code
    assert closed.value.rcvd.code == code


@pytest.mark.parametrize("origin", [None, "http://evil.example"])
async def test_the_apps_own_socket_stays_behind_the_origin_validator_with_the_standin_mounted(daphne_server, origin):
    url = f"ws://127.0.0.1:{daphne_server.port}/ws/tutor/sessions/1/"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, origin=origin):
            pass
    assert refused.value.response.status_code == 403


async def test_a_call_outlives_its_client_secret_but_the_secret_opens_nothing_more(daphne_server):
    from datetime import timedelta

    from django.utils import timezone

    from standin.models import ClientSecret

    session = {"type": "realtime", "instructions": INSTRUCTIONS, "output_modalities": ["text"]}
    secret = await client(daphne_server).realtime.client_secrets.create(session=session)
    caller, call_id = await open_call(daphne_server, session, secret=secret.value)
    try:
        await ClientSecret.objects.filter(value=secret.value).aupdate(expires_at=timezone.now() - timedelta(seconds=1))

        caller.send({"type": "response.create"})
        assert (await caller.wait_for("response.done"))["response"]["status"] == "completed"
        another = RealtimeCaller(audio=False)
        try:
            with pytest.raises(openai.AuthenticationError):
                await client(daphne_server, key=secret.value).realtime.calls.create(sdp=await another.offer())
        finally:
            await another.close()
        refused = Socket(await client(daphne_server, key=secret.value).realtime.connect(model="gpt-realtime").enter())
        assert await refused.until_closed() == 3000
    finally:
        await caller.close()


async def test_a_sideband_that_joins_after_another_died_gets_the_calls_events(daphne_server):
    """A holder killed mid-call (its TCP connection dropped, no close frame) does not stop the
    call's events from reaching the sideband that takes over."""
    caller, call_id = await open_call(daphne_server, {"type": "realtime", "instructions": INSTRUCTIONS, "output_modalities": ["text"]})
    try:
        first = await sideband(daphne_server, call_id)
        await first.next("session.created")
        caller.send(user_text("hola"))
        caller.send({"type": "response.create"})
        await first.next("response.done")
        first.connection._connection.transport.abort()  # as SIGKILL leaves it
        await asyncio.sleep(0.5)
        second = await sideband(daphne_server, call_id)
        await second.next("session.created")
        mark = len(caller.events)
        caller.send(user_text("adios"))
        caller.send({"type": "response.create"})
        await caller.wait_for("response.done", after=mark)
        await second.next("response.done")
    finally:
        await caller.close()
