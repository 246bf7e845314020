"""PostgreSQL restarted while a learner's items flow: the server retries each save, none is lost.

The page is not involved: one socket sends every item once and never resends, so every
acknowledgement after the restart is the server's own retry.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from django.db import connections

from tests.faults.helpers import (
    is_postgresql,
    item_message,
    postgres_cluster,
    postgres_ctl,
    postgres_ensure_up,
    session_cookie,
    ws_connect,
)
from tests.support.daphne import daphne_running
from tutor.models import ConversationItem, TutorSession

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not is_postgresql(), reason="needs DATABASE_URL=postgres://… (restarts PostgreSQL)"
    ),
    pytest.mark.skipif(postgres_cluster() is None, reason="no local PostgreSQL cluster to restart"),
]

BEFORE, DURING, AFTER = 15, 40, 15
GAP_S = 0.05


async def send_items(
    base_url: str, path: str, cookie: str, restart: threading.Event
) -> tuple[set, list]:
    acks: set[str] = set()
    errors: list[dict] = []
    sent: list[str] = []
    async with ws_connect(base_url, path, cookie) as ws:

        async def receive() -> None:
            async for frame in ws:
                reply = json.loads(frame)
                if reply["type"] == "ack":
                    acks.add(reply["item_id"])
                else:
                    errors.append(reply)

        receiver = asyncio.create_task(receive())
        for order in range(BEFORE + DURING + AFTER):
            if order == BEFORE:
                restart.set()
            item_id = f"item_{order:03d}"
            await ws.send(json.dumps(item_message(item_id, order)))
            sent.append(item_id)
            await asyncio.sleep(GAP_S)
        deadline = asyncio.get_running_loop().time() + 60
        while len(acks) + len(errors) < len(sent) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        receiver.cancel()
    return acks, errors, sent


@pytest.mark.parametrize(
    "env, felt",
    [
        # Persistent connections: the restart leaves each worker thread a dead connection to
        # trip on, and the saves' retries ride it out.
        ({"DB_POOL": "off", "DB_CONN_MAX_AGE": "60"}, True),
        # The pool (the default): each borrowed connection is checked, so a dead one is
        # replaced before a save sees it.
        ({}, False),
    ],
    ids=["persistent-connections", "pool"],
)
def test_items_sent_across_a_postgresql_restart_are_all_saved_once(alice, env, felt):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    cookie = session_cookie(alice)
    restart = threading.Event()
    restarted: list = []

    def restarter() -> None:
        restart.wait(timeout=60)
        restarted.append(postgres_ctl("restart"))

    with daphne_running(env=env) as server:
        thread = threading.Thread(target=restarter, daemon=True)
        thread.start()
        try:
            acks, errors, sent = asyncio.run(
                send_items(server.base_url, f"/ws/tutor/sessions/{session.pk}/", cookie, restart)
            )
        finally:
            thread.join(timeout=120)
            postgres_ensure_up()
            connections.close_all()  # this process's connections died with the restart too
        log = server.log()

    assert restarted and restarted[0].returncode == 0, restarted and restarted[0].stderr
    assert errors == [], log[-5000:]
    assert acks == set(sent)
    saved = list(ConversationItem.objects.filter(session=session).values_list("item_id", flat=True))
    assert sorted(saved) == sorted(sent)  # each exactly once
    if felt:
        assert "Database unavailable" in log and "retrying" in log  # felt, and ridden out
    assert "Traceback" not in log
