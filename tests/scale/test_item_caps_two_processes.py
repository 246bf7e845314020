"""The storage caps hold across server processes: two daphnes, two sockets, one learner."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.faults.helpers import item_message, session_cookie, ws_connect
from tests.support.daphne import daphne_running
from tutor.models import ConversationItem, TutorSession

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 5
SOCKETS_PER_PROCESS = 4
ENV = {"TUTOR_MAX_ITEMS_PER_SESSION": str(CAP)}


async def send_items(base_url: str, path: str, cookie: str, prefix: str, start: asyncio.Event) -> list[dict]:
    async with ws_connect(base_url, path, cookie) as ws:
        await start.wait()
        for n in range(CAP):
            await ws.send(json.dumps(item_message(f"{prefix}_{n}", n)))
        return [json.loads(await asyncio.wait_for(ws.recv(), timeout=20)) for _ in range(CAP)]


async def both(urls: list[str], path: str, cookie: str) -> list[dict]:
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(send_items(url, path, cookie, f"p{n}_s{k}", start))
        for n, url in enumerate(urls)
        for k in range(SOCKETS_PER_PROCESS)
    ]
    await asyncio.sleep(1.0)  # both sockets open
    start.set()
    return [reply for replies in await asyncio.gather(*tasks) for reply in replies]


def test_two_processes_saving_at_once_never_pass_the_sessions_cap(alice):
    """Eight sockets, four on each process, save at once; exactly the cap is kept."""
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    cookie = session_cookie(alice)
    path = f"/ws/tutor/sessions/{session.pk}/"

    with daphne_running(env=ENV) as a, daphne_running(env=ENV) as b:
        replies = asyncio.run(both([a.base_url, b.base_url], path, cookie))
        logs = a.log() + b.log()

    kinds = sorted(reply["type"] if reply["type"] == "ack" else reply["code"] for reply in replies)
    assert kinds == ["ack"] * CAP + ["too_many"] * (CAP * (2 * SOCKETS_PER_PROCESS - 1)), replies
    assert ConversationItem.objects.filter(session=session).count() == CAP
    assert "Traceback" not in logs
