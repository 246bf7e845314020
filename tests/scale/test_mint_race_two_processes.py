"""Thirty mints at once for one fresh learner, spread over two daphne processes on one
PostgreSQL database, give exactly one session: the limits are held by the database's row lock,
not by anything a process keeps to itself."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async

from tests.faults.helpers import is_postgresql, session_cookie
from tests.support.daphne import daphne_running
from tests.support.people import learner_with_words
from tutor.models import TutorSession

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not is_postgresql(), reason="two processes need a shared database: set DATABASE_URL=postgres://…"),
]

PARALLEL = 30
CSRF = "a" * 32  # a CSRF secret of our own: the cookie and the header carry the same one


async def test_thirty_parallel_mints_over_two_processes_give_one_session():
    learner = await sync_to_async(learner_with_words)(
        email="race@parlance.test", name="Race", password="race-pass-1", list_name="Race",
        words=[("gato", "cat")],
    )
    cookie = await sync_to_async(session_cookie)(learner)
    env = {"REALTIME_STANDIN": "on", "OPENAI_API_KEY": ""}
    with daphne_running(env=env) as a, daphne_running(env=env) as b:
        clients = [
            httpx.AsyncClient(base_url=server.base_url, timeout=30, cookies={"sessionid": cookie, "csrftoken": CSRF})
            for server in (a, b)
        ]
        try:
            for client in clients:  # both processes warm, so the race is in the mint, not the start
                assert (await client.get("/tutor/")).status_code == 200
            start = asyncio.Event()

            async def mint(i: int) -> httpx.Response:
                await start.wait()
                return await clients[i % 2].post("/tutor/token/", headers={"X-CSRFToken": CSRF})

            tasks = [asyncio.ensure_future(mint(i)) for i in range(PARALLEL)]
            await asyncio.sleep(0.1)
            start.set()
            answers = await asyncio.gather(*tasks)
        finally:
            for client in clients:
                await client.aclose()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) == 1, statuses
    refused = [answer.json()["error"]["code"] for answer in answers if answer.status_code != 200]
    assert set(refused) <= {"session_live", "rate_limited"}, refused
    session = await TutorSession.objects.aget(learner=learner)  # exactly one
    assert session.keys_unreported == 1  # one key minted for it
