"""An idle conversation socket on the Redis channel layer stays open.

channels-redis waits for channel messages with a blocking Redis read of 5 s; a Redis client
whose read times out at the same 5 s (redis-py's default since 6.x) broke each idle socket
after about 5 s. The settings give the layer's connections a longer read timeout.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from websockets.exceptions import ConnectionClosed

from tests.faults.helpers import item_message, session_cookie, ws_connect
from tests.support.daphne import daphne_running
from tutor.models import ConversationItem, TutorSession

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the Redis channel layer)"
    ),
]

IDLE_S = 12  # more than two of channels-redis's 5 s blocking reads


async def idle_then_save(base_url: str, path: str, cookie: str) -> dict:
    """Idle for IDLE_S (whatever the server says meanwhile), then save an item: its reply."""
    async with ws_connect(base_url, path, cookie) as ws:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IDLE_S
        try:
            while (left := deadline - loop.time()) > 0:
                try:
                    await asyncio.wait_for(ws.recv(), timeout=left)
                except asyncio.TimeoutError:
                    break
        except ConnectionClosed as closed:
            return {"closed_while_idle": closed.rcvd.code if closed.rcvd else None}
        await ws.send(json.dumps(item_message("item_after_idle", 0)))
        while True:
            reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            if reply.get("item_id") == "item_after_idle":
                return reply


def test_an_idle_socket_stays_open_and_still_saves(alice):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    with daphne_running() as server:
        reply = asyncio.run(
            idle_then_save(
                server.base_url, f"/ws/tutor/sessions/{session.pk}/", session_cookie(alice)
            )
        )
        log = server.log()
    assert reply == {"type": "ack", "item_id": "item_after_idle"}, log[-3000:]
    assert ConversationItem.objects.filter(session=session, item_id="item_after_idle").count() == 1
    assert "channel layer is unavailable" not in log
