"""Redis down: pages are still served, /healthz says so, sockets are refused with one clear line."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.faults.helpers import session_cookie, ws_connect
from tests.support.daphne import daphne_running, free_port
from tutor.models import TutorSession

pytestmark = pytest.mark.django_db(transaction=True)


async def try_socket(base_url: str, path: str, cookie: str) -> str:
    try:
        async with ws_connect(base_url, path, cookie) as ws:
            await asyncio.wait_for(ws.recv(), timeout=10)
    except InvalidStatus as refused:
        return f"refused {refused.response.status_code}"
    except Exception as closed:  # ConnectionClosed: accepted, then closed by the server
        return f"closed {getattr(getattr(closed, 'rcvd', None), 'code', type(closed).__name__)}"
    return "answered"


def test_without_redis_pages_are_served_and_sockets_refused_cleanly(alice):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    cookie = session_cookie(alice)
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"

    with daphne_running(env={"REDIS_URL": nothing_listens}) as server:
        with httpx.Client(base_url=server.base_url, timeout=15) as http:
            assert http.get("/").status_code == 200
            assert http.get("/accounts/login/").status_code == 200
            http.cookies.set("sessionid", cookie)
            assert http.get("/tutor/").status_code == 200
            health = http.get("/healthz")
            outcomes = [
                asyncio.run(
                    try_socket(server.base_url, f"/ws/tutor/sessions/{session.pk}/", cookie)
                )
                for _ in range(3)
            ]
            assert http.get("/").status_code == 200  # still serving after the refusals
        log = server.log()

    assert health.status_code == 503
    assert health.json() == {"status": "degraded", "database": "ok", "channel_layer": "unavailable"}
    assert all(outcome in {"refused 403", "closed 4503"} for outcome in outcomes), outcomes
    assert log.count("Conversation socket closed: the channel layer is unavailable") == 3, log
    assert "Traceback" not in log, log
