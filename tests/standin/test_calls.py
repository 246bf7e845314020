"""POST /v1/realtime/calls: SDP offers with ephemeral or server keys, the multipart form, errors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import AsyncClient
from django.utils import timezone

from standin.models import ClientSecret
from tests.standin.helpers import BASE, INSTRUCTIONS, SERVER_KEY, bearer, mint
from tests.standin.rtc import RealtimeCaller

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("standin_settings")]

URL = f"{BASE}/calls"


async def post_sdp(sdp: str, key: str | None):
    headers = bearer(key) if key else {}
    return await AsyncClient().post(URL, data=sdp, content_type="application/sdp", headers=headers)


def assert_openai_error(response, status, *, code=None, param=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param


async def test_it_answers_a_browser_offer_made_with_an_ephemeral_key(no_calls_left):
    minted = await mint(AsyncClient(), {"session": {"type": "realtime", "instructions": INSTRUCTIONS}})
    caller = RealtimeCaller()
    try:
        response = await post_sdp(await caller.offer(), minted["value"])

        assert response.status_code == 201, response.content
        assert response["Content-Type"] == "application/sdp"
        call_id = response["Location"].rsplit("/", 1)[-1]
        assert response["Location"] == f"/v1/realtime/calls/{call_id}" and call_id.startswith("rtc_")
        assert response["Access-Control-Expose-Headers"] == "Location"
        answer = response.content.decode()
        assert answer.startswith("v=0") and "a=fingerprint:" in answer
        assert " 127.0.0.1 " in answer and "typ host" in answer  # the loopback candidate
        assert "m=audio" in answer and "m=application" in answer
        assert call_id in no_calls_left

        await caller.accept(answer)
        created = await caller.wait_for("session.created")
        assert created["session"]["instructions"] == INSTRUCTIONS
        assert created["session"]["id"].startswith("sess_")
    finally:
        await caller.close()


async def test_one_ephemeral_key_opens_several_calls(no_calls_left):
    minted = await mint(AsyncClient())
    callers = [RealtimeCaller(audio=False), RealtimeCaller(audio=False)]
    try:
        for caller in callers:
            response = await post_sdp(await caller.offer(), minted["value"])
            assert response.status_code == 201, response.content
        assert len(no_calls_left) == 2
    finally:
        for caller in callers:
            await caller.close()


async def test_the_server_key_opens_a_call_with_the_default_session(no_calls_left):
    caller = RealtimeCaller(audio=False)
    try:
        response = await post_sdp(await caller.offer(), SERVER_KEY)
        assert response.status_code == 201, response.content
        await caller.accept(response.content.decode())

        created = await caller.wait_for("session.created")
        assert created["session"]["model"] == "gpt-realtime"
        assert created["session"]["audio"]["output"]["voice"] == "marin"
    finally:
        await caller.close()


async def test_it_takes_the_server_side_multipart_form(no_calls_left):
    caller = RealtimeCaller()
    try:
        session = {"type": "realtime", "instructions": INSTRUCTIONS, "output_modalities": ["text"]}
        response = await AsyncClient().post(
            URL, data={"sdp": await caller.offer(), "session": json.dumps(session)}, headers=bearer(SERVER_KEY)
        )
        assert response.status_code == 201, response.content
        assert response["Location"].startswith("/v1/realtime/calls/rtc_")
        await caller.accept(response.content.decode())

        created = await caller.wait_for("session.created")
        assert created["session"]["instructions"] == INSTRUCTIONS
        assert created["session"]["output_modalities"] == ["text"]
    finally:
        await caller.close()


@pytest.mark.parametrize("key", [None, "ek_unknown0000000000000000", "sk-wrong", "Bearer"])
async def test_it_refuses_an_unknown_key(key, no_calls_left):
    caller = RealtimeCaller(audio=False)
    try:
        response = await post_sdp(await caller.offer(), key)
        assert_openai_error(response, 401)
        assert no_calls_left == {}
    finally:
        await caller.close()


async def test_it_refuses_an_expired_ephemeral_key(no_calls_left):
    minted = await mint(AsyncClient())
    await ClientSecret.objects.filter(value=minted["value"]).aupdate(expires_at=timezone.now() - timedelta(seconds=1))
    caller = RealtimeCaller(audio=False)
    try:
        response = await post_sdp(await caller.offer(), minted["value"])
        assert_openai_error(response, 401)
        assert no_calls_left == {}
    finally:
        await caller.close()


async def test_it_refuses_the_multipart_form_with_an_ephemeral_key(no_calls_left):
    minted = await mint(AsyncClient())
    caller = RealtimeCaller(audio=False)
    try:
        response = await AsyncClient().post(
            URL, data={"sdp": await caller.offer(), "session": json.dumps({"type": "realtime"})}, headers=bearer(minted["value"])
        )
        assert_openai_error(response, 401)
    finally:
        await caller.close()


GOOD_SHAPE_BAD_CONTENT = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:x\r\na=ice-pwd:y\r\na=fingerprint:sha-256 zz\r\n"


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "hello, I am not SDP",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:x\r\na=ice-pwd:y\r\n",
        GOOD_SHAPE_BAD_CONTENT,
    ],
    ids=["empty", "prose", "no-media", "no-fingerprint", "broken-media"],
)
async def test_it_refuses_a_bad_offer(sdp, no_calls_left):
    minted = await mint(AsyncClient())

    response = await post_sdp(sdp, minted["value"])

    assert_openai_error(response, 400, code="invalid_offer", param="sdp")
    assert no_calls_left == {}


async def test_it_refuses_an_offer_sent_as_json(no_calls_left):
    caller = RealtimeCaller(audio=False)
    try:
        response = await AsyncClient().post(
            URL, data=json.dumps({"sdp": await caller.offer()}), content_type="application/json", headers=bearer(SERVER_KEY)
        )
        assert_openai_error(response, 400, code="unsupported_content_type")
    finally:
        await caller.close()


async def test_it_refuses_a_multipart_form_without_sdp(no_calls_left):
    response = await AsyncClient().post(URL, data={"session": json.dumps({"type": "realtime"})}, headers=bearer(SERVER_KEY))

    assert_openai_error(response, 400, code="missing_required_parameter", param="sdp")


@pytest.mark.parametrize(
    ("session", "param"),
    [('{"type": "realtime", "voice": "x"}', "session.voice"), ('{"type": "realtime"', "session"), ('{"type": "nope"}', "session.type")],
)
async def test_it_refuses_a_multipart_form_with_a_bad_session(session, param, no_calls_left):
    caller = RealtimeCaller(audio=False)
    try:
        response = await AsyncClient().post(URL, data={"sdp": await caller.offer(), "session": session}, headers=bearer(SERVER_KEY))
        assert_openai_error(response, 400, param=param)
        assert no_calls_left == {}
    finally:
        await caller.close()


async def test_it_answers_a_cors_preflight_for_browsers():
    response = await AsyncClient().options(
        URL,
        headers={
            "Origin": "http://127.0.0.1:9999",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-openai-agents-sdk",
        },
    )

    assert response.status_code == 204
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-openai-agents-sdk"} <= allowed
    assert response["Access-Control-Expose-Headers"] == "Location"
    assert "POST" in response["Access-Control-Allow-Methods"]
