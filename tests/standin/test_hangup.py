"""POST /v1/realtime/calls/{call_id}/hangup, and calls ending when the peer goes away."""

from __future__ import annotations

import asyncio

import pytest
from django.test import AsyncClient

from tests.standin.helpers import BASE, SERVER_KEY, bearer, mint
from tests.standin.rtc import RealtimeCaller

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("standin_settings")]


async def connected_call(calls):
    minted = await mint(AsyncClient())
    caller = RealtimeCaller()
    response = await AsyncClient().post(
        f"{BASE}/calls", data=await caller.offer(), content_type="application/sdp", headers=bearer(minted["value"])
    )
    assert response.status_code == 201, response.content
    await caller.accept(response.content.decode())
    await caller.wait_for("session.created")
    call_id = response["Location"].rsplit("/", 1)[-1]
    return caller, calls[call_id], minted["value"]


async def hangup(call_id, key=SERVER_KEY):
    headers = bearer(key) if key else {}
    return await AsyncClient().post(f"{BASE}/calls/{call_id}/hangup", headers=headers)


async def test_hangup_ends_the_call_and_closes_its_peer_connection(no_calls_left):
    caller, call, _ = await connected_call(no_calls_left)
    try:
        response = await hangup(call.call_id)

        assert response.status_code == 200
        assert call.call_id not in no_calls_left
        assert call.pc.connectionState == "closed"
        assert call.call.closed
        await asyncio.wait_for(caller.closed.wait(), 10)  # the caller sees its channel close
    finally:
        await caller.close()


async def test_a_second_hangup_finds_no_call(no_calls_left):
    caller, call, _ = await connected_call(no_calls_left)
    try:
        assert (await hangup(call.call_id)).status_code == 200

        response = await hangup(call.call_id)

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "call_not_found"
    finally:
        await caller.close()


async def test_hangup_of_an_unknown_call_is_404():
    response = await hangup("rtc_doesnotexist")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("key", [None, "sk-wrong", "ephemeral"])
async def test_hangup_needs_the_server_key(key, no_calls_left):
    caller, call, ephemeral = await connected_call(no_calls_left)
    try:
        response = await hangup(call.call_id, ephemeral if key == "ephemeral" else key)

        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert call.call_id in no_calls_left
        assert call.pc.connectionState == "connected"
    finally:
        await caller.close()


async def test_the_call_ends_when_the_caller_goes_away(no_calls_left):
    caller, call, _ = await connected_call(no_calls_left)

    await caller.close()

    await asyncio.wait_for(call.ended.wait(), 15)
    assert call.call_id not in no_calls_left
    assert call.pc.connectionState == "closed"


async def test_a_call_that_never_connects_is_dropped(no_calls_left, monkeypatch):
    from standin import webrtc

    monkeypatch.setattr(webrtc, "CONNECT_TIMEOUT_S", 0.3)
    minted = await mint(AsyncClient())
    caller = RealtimeCaller(audio=False)
    try:
        response = await AsyncClient().post(
            f"{BASE}/calls", data=await caller.offer(), content_type="application/sdp", headers=bearer(minted["value"])
        )
        call = no_calls_left[response["Location"].rsplit("/", 1)[-1]]

        await asyncio.wait_for(call.ended.wait(), 5)  # the caller never applied the answer

        assert call.call_id not in no_calls_left
        assert call.pc.connectionState == "closed"
    finally:
        await caller.close()
