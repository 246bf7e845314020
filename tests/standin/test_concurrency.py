"""Twenty calls at once in one process, and every ended call lets go of its peer connection."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from django.test import AsyncClient

from tests.standin.helpers import BASE, INSTRUCTIONS, SERVER_KEY, bearer, mint
from tests.standin.rtc import RealtimeCaller

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("standin_settings")]

CALL_COUNT = 20


async def start_call(key: str, *, audio: bool) -> tuple[RealtimeCaller, str]:
    caller = RealtimeCaller(audio=audio)
    response = await AsyncClient().post(
        f"{BASE}/calls", data=await caller.offer(), content_type="application/sdp", headers=bearer(key)
    )
    assert response.status_code == 201, response.content
    await caller.accept(response.content.decode(), timeout=30)
    return caller, response["Location"].rsplit("/", 1)[-1]


async def typed_turn(caller: RealtimeCaller, text: str) -> dict:
    caller.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
    caller.send({"type": "response.create"})
    return await caller.wait_for("response.done", timeout=30)


async def test_twenty_calls_at_once_then_all_released(no_calls_left):
    minted = await mint(AsyncClient(), {"session": {"type": "realtime", "instructions": INSTRUCTIONS, "output_modalities": ["text"]}})

    # Every fourth caller sends and receives audio; the rest use the data channel only, so the
    # test (which runs both ends of every call in this process) stays quick on two cores.
    started = await asyncio.gather(*(start_call(minted["value"], audio=i % 4 == 0) for i in range(CALL_COUNT)))
    callers = [caller for caller, _ in started]
    call_ids = [call_id for _, call_id in started]
    assert len(set(call_ids)) == CALL_COUNT
    assert set(no_calls_left) == set(call_ids)

    words = ["gato", "perro", "casa"]
    dones = await asyncio.gather(*(typed_turn(c, f"mi {words[i % 3]}") for i, c in enumerate(callers)))
    for index, done in enumerate(dones):  # each call kept its own conversation
        assert done["response"]["status"] == "completed"
        assert f"'{words[index % 3]}'" in done["response"]["output"][0]["content"][0]["text"]

    calls = [no_calls_left[call_id] for call_id in call_ids]
    peer_connections = [weakref.ref(call.pc) for call in calls]
    ice_transports = [t for call in calls for t in call.pc._RTCPeerConnection__iceTransports]

    half = CALL_COUNT // 2
    for call_id in call_ids[:half]:  # ended by hangup ...
        response = await AsyncClient().post(f"{BASE}/calls/{call_id}/hangup", headers=bearer(SERVER_KEY))
        assert response.status_code == 200
    for caller in callers[half:]:  # ... or by the caller going away
        await caller.close()
    await asyncio.wait_for(asyncio.gather(*(call.ended.wait() for call in calls)), 20)

    assert no_calls_left == {}
    assert all(call.pc.connectionState == "closed" for call in calls)
    assert all(transport.state == "closed" for transport in ice_transports)
    for caller in callers:
        await caller.close()
    del calls, started, ice_transports
    for _ in range(20):  # let aiortc's closing tasks finish, then nothing may hold the connections
        await asyncio.sleep(0.05)
        gc.collect()
        if all(ref() is None for ref in peer_connections):
            break
    alive = [ref() for ref in peer_connections if ref() is not None]
    assert alive == [], f"{len(alive)} peer connections still referenced: {gc.get_referrers(alive[0])[:3] if alive else ''}"
