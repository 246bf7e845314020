"""The unified interface of POST /v1/realtime/calls, as OpenAI specifies it (RealtimeCallCreateRequest:
a multipart form of an ``sdp`` part, ``application/sdp``, and an optional ``session`` part,
``application/json``, nothing else), driven by Parlance's own client ``voice.realtime.calls_create``.
And one ``ek_`` key: it opens calls until it expires, as OpenAI documents."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient
from django.utils import timezone

from standin.models import ClientSecret
from tests.standin.helpers import BASE, INSTRUCTIONS, SERVER_KEY, bearer, mint
from tests.standin.rtc import RealtimeCaller
from voice import realtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("standin_settings")]

URL = f"{BASE}/calls"
BASE_URL = "http://testserver/standin/v1"


def transport() -> httpx.ASGITransport:
    """The stand-in in this process and event loop (aiortc answers here), reached over HTTP."""
    return httpx.ASGITransport(app=ASGIHandler())


async def test_parlances_client_creates_a_call_with_the_session_it_sends(no_calls_left):
    caller = RealtimeCaller(audio=False)
    try:
        config = {"type": "realtime", "instructions": INSTRUCTIONS, "output_modalities": ["text"]}
        created = await realtime.calls_create(
            sdp=await caller.offer(), session_config=config, base_url=BASE_URL, api_key=SERVER_KEY,
            transport=transport(),
        )
        assert created.call_id.startswith("rtc_") and created.call_id in no_calls_left
        await caller.accept(created.answer_sdp)
        session = (await caller.wait_for("session.created"))["session"]
        assert session["instructions"] == INSTRUCTIONS and session["output_modalities"] == ["text"]

        await realtime.calls_hangup(call_id=created.call_id, base_url=BASE_URL, api_key=SERVER_KEY, transport=transport())
        assert created.call_id not in no_calls_left
    finally:
        await caller.close()


async def test_parlances_client_gets_the_stand_ins_refusals_as_clear_errors(no_calls_left):
    with pytest.raises(realtime.RealtimeError) as refused:
        await realtime.calls_create(
            sdp="v=0\r\nnot an offer", session_config={"type": "realtime"}, base_url=BASE_URL, api_key=SERVER_KEY,
            transport=transport(),
        )
    assert (refused.value.status, refused.value.code) == (502, "upstream_rejected")
    with pytest.raises(realtime.RealtimeError) as refused:
        await realtime.calls_create(
            sdp="v=0\r\n", session_config={"type": "realtime"}, base_url=BASE_URL, api_key="sk-wrong", transport=transport()
        )
    assert refused.value.code == "upstream_auth"
    assert no_calls_left == {}


def multipart(parts: list[tuple[str, str, str]]) -> tuple[bytes, str]:
    """A form whose parts carry their own content types and no file name, as the SDK sends them."""
    boundary = "parlance-test-boundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\nContent-Type: {kind}\r\n\r\n{value}\r\n'.encode()
        for name, kind, value in parts
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def test_the_form_takes_typed_parts_and_the_session_is_optional(no_calls_left):
    caller = RealtimeCaller(audio=False)
    try:
        body, content_type = multipart([("sdp", "application/sdp", await caller.offer())])
        response = await AsyncClient().post(URL, data=body, content_type=content_type, headers=bearer(SERVER_KEY))
        assert response.status_code == 201, response.content
        assert response["Content-Type"] == "application/sdp"
        assert response["Location"].startswith("/v1/realtime/calls/rtc_")
        await caller.accept(response.content.decode())
        assert (await caller.wait_for("session.created"))["session"]["model"] == "gpt-realtime"
    finally:
        await caller.close()


async def test_a_part_the_spec_does_not_name_is_refused(no_calls_left):
    caller = RealtimeCaller(audio=False)
    try:
        body, content_type = multipart([
            ("sdp", "application/sdp", await caller.offer()),
            ("session", "application/json", json.dumps({"type": "realtime"})),
            ("model", "text/plain", "gpt-realtime"),
        ])
        response = await AsyncClient().post(URL, data=body, content_type=content_type, headers=bearer(SERVER_KEY))
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("unknown_parameter", "model")
        assert no_calls_left == {}
    finally:
        await caller.close()


async def test_one_key_opens_calls_until_it_expires_and_its_calls_outlive_it(no_calls_left):
    """OpenAI: "A secret can be used to create multiple sessions until it expires", and "the
    session itself may continue after that time once started" (expires_after, client_secrets)."""
    minted = await mint(AsyncClient())
    first, second, late = RealtimeCaller(audio=False), RealtimeCaller(audio=False), RealtimeCaller(audio=False)
    try:
        for caller in (first, second):
            response = await AsyncClient().post(
                URL, data=await caller.offer(), content_type="application/sdp", headers=bearer(minted["value"])
            )
            assert response.status_code == 201
        await ClientSecret.objects.filter(value=minted["value"]).aupdate(expires_at=timezone.now() - timedelta(seconds=1))
        response = await AsyncClient().post(
            URL, data=await late.offer(), content_type="application/sdp", headers=bearer(minted["value"])
        )
        assert response.status_code == 401
        assert len(no_calls_left) == 2  # the two calls made in time go on
    finally:
        for caller in (first, second, late):
            await caller.close()
