"""Two daphne processes on one PostgreSQL and one Redis, no sticky sessions.

A learner starts a session on process A (key minted by A, WebRTC call to A's stand-in, socket
on A). The socket drops and reconnects to process B, the way a proxy without sticky sessions
may route it: the browser's socket is relayed to B by the test. The items A saved but never
acknowledged are resent to B, the conversation goes on through B, and every item is saved once.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from accounts.models import User
from tests.conftest import PASSWORD
from tests.faults.helpers import (
    is_postgresql,
    page_settled,
    ws_connect,
)
from tests.support.daphne import daphne_running
from tests.support.people import learner_with_words
from tutor.models import ConversationItem, TutorSession

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (is_postgresql() and os.environ.get("REDIS_URL")),
        reason="several processes need a shared database and channel layer: "
        "set DATABASE_URL=postgres://… and REDIS_URL=redis://…",
    ),
]

TIMEOUT_MS = 30_000
EMAIL = "noor@example.com"
ENV = {"REALTIME_STANDIN": "on", "OPENAI_API_KEY": ""}


@sync_to_async
def make_learner() -> User:
    return learner_with_words(
        email=EMAIL,
        name="Noor",
        password=PASSWORD,
        list_name="Familia",
        words=[("madre", "mother"), ("hermano", "brother")],
    )


@sync_to_async
def saved_items() -> list[ConversationItem]:
    session = TutorSession.objects.get(learner__email=EMAIL)
    return list(ConversationItem.objects.filter(session=session).order_by("order"))


class Relay:
    """Routes the page's conversation socket: the first connection to A, every later one to B."""

    def __init__(self, process_b_url: str) -> None:
        self.process_b_url = process_b_url
        self.cookie = ""
        self.swallow_acks = False
        self.routes = []
        self.from_b: list[dict] = []
        self.tasks: set[asyncio.Task] = set()

    async def __call__(self, ws) -> None:
        self.routes.append(ws)
        if len(self.routes) == 1:
            server = ws.connect_to_server()
            server.on_message(lambda m: None if self.swallow_acks and '"ack"' in m else ws.send(m))
            ws.on_message(lambda m: server.send(m))
            return
        to_b: asyncio.Queue = asyncio.Queue()
        ws.on_message(to_b.put_nowait)
        ws.on_close(lambda *args: to_b.put_nowait(None))
        task = asyncio.create_task(self._relay_to_b(ws, to_b))
        self.tasks.add(task)

    async def _relay_to_b(self, ws, to_b: asyncio.Queue) -> None:
        path = ws.url.split("://", 1)[1].split("/", 1)[1]
        async with ws_connect(self.process_b_url, "/" + path, self.cookie) as upstream:

            async def page_to_b() -> None:
                while (message := await to_b.get()) is not None:
                    await upstream.send(message)
                await upstream.close()

            sender = asyncio.create_task(page_to_b())
            try:
                async for message in upstream:
                    self.from_b.append(json.loads(message))
                    ws.send(message)
            finally:
                sender.cancel()


async def say(page, text: str) -> None:
    await page.fill("#typed-message", text)
    await page.click("[data-composer] button[type=submit]")


async def test_a_session_started_on_one_process_continues_on_another_and_saves_once(chromium):
    await make_learner()
    with daphne_running(env=ENV) as process_a, daphne_running(env=ENV) as process_b:
        relay = Relay(process_b.base_url)
        page = await chromium.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.route_web_socket("**/ws/tutor/sessions/**", relay)

        await page.goto(f"{process_a.base_url}/accounts/login/")
        await page.fill("input[name=login]", EMAIL)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form button[type=submit]")
        await page.wait_for_url(f"{process_a.base_url}/")
        relay.cookie = next(
            c["value"] for c in await page.context.cookies() if c["name"] == "sessionid"
        )
        await page.goto(f"{process_a.base_url}/tutor/")
        await page.click('[data-action="start"]')
        await page.wait_for_selector('#tutor[data-state="live"]', timeout=TIMEOUT_MS)
        await page.click('[data-action="mute"]')
        await page.wait_for_selector(
            "li.turn-assistant[data-saved=true]", timeout=TIMEOUT_MS
        )  # via A

        # A saves a turn and the reply, but its acknowledgements are lost; then the socket drops.
        relay.swallow_acks = True
        await say(page, "Mi madre es profesora")
        await page.wait_for_function(
            "() => document.querySelectorAll('li.turn-assistant').length >= 2", timeout=TIMEOUT_MS
        )
        await asyncio.sleep(1.0)
        assert not await page.evaluate("() => document.querySelector('[data-pending]').hidden")
        await relay.routes[0].close()

        # The page reconnects (to B), resends its outbox, and the conversation goes on through B.
        await page.wait_for_function(
            "() => document.querySelector('[data-pending]').hidden", timeout=TIMEOUT_MS
        )
        await say(page, "Tengo un hermano")
        await page.wait_for_function(
            "() => [...document.querySelectorAll('li.turn-user[data-saved=true]')]"
            ".some(li => li.textContent.includes('Tengo un hermano'))",
            timeout=TIMEOUT_MS,
        )
        await page_settled(page, TIMEOUT_MS)
        page_ids = await page.eval_on_selector_all(
            "[data-item-id][data-saved=true]", "els => els.map(e => e.dataset.itemId)"
        )
        await page.close()
        for task in relay.tasks:
            task.cancel()
        log_a, log_b = process_a.log(), process_b.log()

    saved = await saved_items()
    await sync_to_async(connections.close_all)()
    saved_ids = [item.item_id for item in saved]
    acked_by_b = {reply["item_id"] for reply in relay.from_b if reply.get("type") == "ack"}

    assert len(relay.routes) >= 2
    assert len(saved_ids) == len(set(saved_ids))  # exactly once, across both processes
    assert set(page_ids) == set(saved_ids)
    assert "Mi madre es profesora" in [item.text for item in saved]
    assert "Tengo un hermano" in [item.text for item in saved]
    # B acknowledged the resent turns A had already saved, and the new ones.
    by_text = {item.text: item.item_id for item in saved}
    assert {by_text["Mi madre es profesora"], by_text["Tengo un hermano"]} <= acked_by_b
    assert "WSCONNECT /ws/tutor/sessions/" in log_a and "WSCONNECT /ws/tutor/sessions/" in log_b
    assert errors == []
    assert "Traceback" not in log_a + log_b
