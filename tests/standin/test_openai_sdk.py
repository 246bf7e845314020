"""The official ``openai`` SDK, pointed at the stand-in with ``base_url``, works unchanged."""

from __future__ import annotations

import asyncio

import openai
import pytest
from django.conf import settings

from tests.standin.helpers import INSTRUCTIONS, RECORD_WORD_PRACTICE
from tests.standin.rtc import RealtimeCaller

pytestmark = pytest.mark.django_db(transaction=True)


def client(daphne_server, key=None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=key or settings.STANDIN_API_KEY, base_url=f"{daphne_server.base_url}/standin/v1", max_retries=0
    )


async def test_client_secrets_create_returns_an_ephemeral_key(daphne_server):
    secret = await client(daphne_server).realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 120},
        session={"type": "realtime", "instructions": INSTRUCTIONS, "tools": [RECORD_WORD_PRACTICE]},
    )

    assert secret.value.startswith("ek_")
    assert secret.session.id.startswith("sess_")
    assert secret.session.instructions == INSTRUCTIONS
    assert secret.session.tools[0].name == "record_word_practice"


async def test_a_bad_session_raises_bad_request_with_openai_fields(daphne_server):
    with pytest.raises(openai.BadRequestError) as raised:
        await client(daphne_server).realtime.client_secrets.create(
            session={"type": "realtime", "audio": {"output": {"voice": "nobody"}}}
        )

    assert raised.value.status_code == 400
    assert raised.value.code == "invalid_value"
    assert raised.value.param == "session.audio.output.voice"


async def test_a_wrong_key_raises_authentication_error(daphne_server):
    with pytest.raises(openai.AuthenticationError):
        await client(daphne_server, key="sk-not-the-key").realtime.client_secrets.create()


async def test_calls_create_answers_an_aiortc_offer_and_hangup_ends_the_call(daphne_server):
    secret = await client(daphne_server).realtime.client_secrets.create(
        session={"type": "realtime", "instructions": INSTRUCTIONS}
    )
    caller = RealtimeCaller()
    try:
        raw = await client(daphne_server, key=secret.value).realtime.calls.with_raw_response.create(sdp=await caller.offer())
        assert raw.status_code == 201
        call_id = raw.headers["location"].rsplit("/", 1)[-1]
        assert call_id.startswith("rtc_")
        await caller.accept(raw.parse().text)
        created = await caller.wait_for("session.created")
        assert created["session"]["instructions"] == INSTRUCTIONS

        assert await client(daphne_server).realtime.calls.hangup(call_id) is None

        await asyncio.wait_for(caller.closed.wait(), 10)
        with pytest.raises(openai.NotFoundError):
            await client(daphne_server).realtime.calls.hangup(call_id)
    finally:
        await caller.close()


async def test_calls_create_with_a_session_sends_the_multipart_form(daphne_server):
    caller = RealtimeCaller(audio=False)
    try:
        raw = await client(daphne_server).realtime.calls.with_raw_response.create(
            sdp=await caller.offer(), session={"type": "realtime", "instructions": "Focus words: agua", "output_modalities": ["text"]}
        )
        assert raw.status_code == 201
        await caller.accept(raw.parse().text)
        created = await caller.wait_for("session.created")
        assert created["session"]["instructions"] == "Focus words: agua"

        caller.send({"type": "response.create"})
        done = await caller.wait_for("response.output_text.done")
        assert "'agua'" in done["text"] and "not an AI" in done["text"]
        await client(daphne_server).realtime.calls.hangup(raw.headers["location"].rsplit("/", 1)[-1])
    finally:
        await caller.close()
