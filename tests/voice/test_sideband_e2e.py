"""Black-box, against a running daphne with the stand-in: a bare WebRTC client that never relays
tools and never sends usage still gets its tutor's tool call run and its practice recorded, by
the server's own sideband; its usage and speaking time appear on the session.

The client is aiortc (tests/standin/rtc.py), not the page: it mints a key, opens the call,
reports the call id on the conversation socket, says a focus word by typing, and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async

from tests.standin.rtc import RealtimeCaller
from tests.support.daphne import daphne_running
from tests.support.people import learner_with_words
from tutor.models import CallLease, Review, ToolCall, TutorSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "sideband-pass-1"


@pytest.fixture
def server(transactional_db):
    with daphne_running(env={"REALTIME_SIDEBAND": "on", "SIDEBAND_CLAIM_SECONDS": "0.2"}) as running:
        yield running


@pytest.fixture
def learner(transactional_db):
    return learner_with_words(
        email="side@parlance.test", name="Side", password=PASSWORD, list_name="Sideband words",
        words=[("gato", "cat"), ("perro", "dog")],
    )


async def signed_in(base_url: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url, follow_redirects=True, timeout=20)
    page = await client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    await client.post(
        "/accounts/login/",
        data={"login": "side@parlance.test", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
    )
    await client.get("/tutor/")  # sets the CSRF cookie
    return client


async def wait_until(check, *, timeout=20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await sync_to_async(check)()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def call_reported(client: httpx.AsyncClient, server, grant: dict, caller: RealtimeCaller):
    """Open the call with the grant's key, as a bare client, and report its id on the
    conversation socket: the call id and the open socket."""
    answer = await client.post(
        grant["calls_url"], content=await caller.offer(),
        headers={"Authorization": f"Bearer {grant['client_secret']}", "Content-Type": "application/sdp"},
    )
    assert answer.status_code == 201
    call_id = answer.headers["location"].rsplit("/", 1)[-1]
    await caller.accept(answer.text)
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    socket = await websockets.connect(
        server.base_url.replace("http", "ws") + grant["socket_url"],
        additional_headers={"Cookie": cookies, "Origin": server.base_url},
    )
    await socket.send(json.dumps({"type": "call", "call_id": call_id}))
    assert json.loads(await socket.recv())["type"] == "call_ack"
    return call_id, socket


async def test_a_bare_client_gets_its_tool_call_run_and_recorded_by_the_server(server, learner):
    client = await signed_in(server.base_url)
    grant = (await client.post("/tutor/token/", headers={"X-CSRFToken": client.cookies["csrftoken"]})).json()
    assert grant["server_tools"] is True

    caller = RealtimeCaller(audio=False)
    socket = None
    try:
        call_id, socket = await call_reported(client, server, grant, caller)
        session = await TutorSession.objects.aget(pk=grant["session_id"])
        await wait_until(lambda: TutorSession.objects.get(pk=session.pk).sideband_joined_at)

        # The learner types a focus word; the stand-in's tutor calls record_word_practice. The
        # client relays nothing: the server runs the call and answers it on the call.
        mark = len(caller.events)
        caller.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "el gato"}]}})
        caller.send({"type": "response.create"})
        await caller.wait_for("response.output_item.done", lambda e: e["item"]["type"] == "function_call", after=mark, timeout=20)
        # The tutor goes on after the server's function_call_output.
        await caller.wait_for("conversation.item.added", lambda e: e["item"]["type"] == "function_call_output", after=mark, timeout=20)

        await wait_until(lambda: Review.objects.filter(session_id=session.pk, source="voice").exists())
        assert await ToolCall.objects.filter(session_id=session.pk).acount() == 1
        await wait_until(lambda: (TutorSession.objects.get(pk=session.pk).usage or {}).get("responses"))
        session = await TutorSession.objects.aget(pk=session.pk)
        assert session.usage["output_tokens"] > 0
        assert session.speaking_seconds == 0.0  # typed only: measured, and nothing spoken
        assert await CallLease.objects.filter(call_id=call_id).exclude(holder="").aexists()
    finally:
        if socket is not None:
            await socket.close()
        await caller.close()
        await client.aclose()


async def test_a_false_call_id_is_charged_to_the_hang_up_time(server, learner):
    client = await signed_in(server.base_url)
    grant = (await client.post("/tutor/token/", headers={"X-CSRFToken": client.cookies["csrftoken"]})).json()
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    try:
        async with websockets.connect(
            server.base_url.replace("http", "ws") + grant["socket_url"],
            additional_headers={"Cookie": cookies, "Origin": server.base_url},
        ) as socket:
            await socket.send(json.dumps({"type": "call", "call_id": "rtc_made_up"}))
            assert json.loads(await socket.recv())["type"] == "call_ack"
            session = await wait_until(
                lambda: TutorSession.objects.filter(pk=grant["session_id"]).exclude(call_refused="").first()
            )
            await socket.send(json.dumps({"type": "end", "reason": "user"}))
            await socket.recv()
        assert session.keys_unreported == 1
        again = await client.post("/tutor/token/", headers={"X-CSRFToken": client.cookies["csrftoken"]})
        assert again.status_code == 403 and again.json()["error"]["code"] == "session_live"
    finally:
        await client.aclose()


# --- A killed holder is replaced ---------------------------------------------------------------


class Worker:
    """``manage.py run_sideband`` in a subprocess, on the test database."""

    def __init__(self, env: dict[str, str]) -> None:
        import os
        import subprocess
        import sys
        import tempfile

        from tests.support.daphne import REPO, database_url_for_tests

        self.log = tempfile.NamedTemporaryFile(prefix="sideband-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_sideband"],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "DATABASE_URL": database_url_for_tests(), **env},
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


async def test_a_killed_sideband_holder_is_replaced_within_15_s_runs_what_it_missed_and_nothing_twice(learner):
    env = {
        "REALTIME_SIDEBAND": "on", "SIDEBAND_IN_PROCESS": "off",
        "SIDEBAND_LEASE_SECONDS": "6", "SIDEBAND_CLAIM_SECONDS": "0.3",
    }
    with daphne_running(env=env) as server:
        workers = [Worker(env), Worker(env)]
        client = await signed_in(server.base_url)
        caller = RealtimeCaller(audio=False)
        try:
            grant = (await client.post("/tutor/token/", headers={"X-CSRFToken": client.cookies["csrftoken"]})).json()
            answer = await client.post(
                grant["calls_url"], content=await caller.offer(),
                headers={"Authorization": f"Bearer {grant['client_secret']}", "Content-Type": "application/sdp"},
            )
            call_id = answer.headers["location"].rsplit("/", 1)[-1]
            await caller.accept(answer.text)
            cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
            async with websockets.connect(
                server.base_url.replace("http", "ws") + grant["socket_url"],
                additional_headers={"Cookie": cookies, "Origin": server.base_url},
            ) as socket:
                await socket.send(json.dumps({"type": "call", "call_id": call_id}))
                await socket.recv()
                first = await wait_until(lambda: CallLease.objects.filter(call_id=call_id, joined_at__isnull=False).values_list("holder", flat=True).first())

                async def say(word: str, reviews: int) -> None:
                    mark = len(caller.events)
                    caller.send({"type": "conversation.item.create", "item": {
                        "type": "message", "role": "user", "content": [{"type": "input_text", "text": word}]}})
                    caller.send({"type": "response.create"})
                    await caller.wait_for("conversation.item.added", lambda e: e["item"]["type"] == "function_call_output", after=mark, timeout=20)
                    await wait_until(lambda: Review.objects.filter(session_id=grant["session_id"]).count() == reviews)
                    await replied(mark)

                async def replied(mark: int) -> None:
                    """Until the tutor's spoken reply after the tool output is done."""
                    await caller.wait_for(
                        "response.done", lambda e: any(o["type"] == "message" for o in e["response"]["output"]),
                        after=mark, timeout=20,
                    )

                await say("gato", 1)
                holder_pid = int(first.split(":")[1])
                (holder,) = [w for w in workers if w.process.pid == holder_pid]
                started = asyncio.get_running_loop().time()
                holder.kill()

                # While nobody holds the call, the tutor calls a tool; the page saves the item
                # (as pages do) but relays nothing. The new holder asks the call for it and runs it.
                mark = len(caller.events)
                caller.send({"type": "conversation.item.create", "item": {
                    "type": "message", "role": "user", "content": [{"type": "input_text", "text": "perro"}]}})
                caller.send({"type": "response.create"})
                done = await caller.wait_for(
                    "conversation.item.done", lambda e: e["item"]["type"] == "function_call", after=mark, timeout=20
                )
                assert not await CallLease.objects.filter(call_id=call_id).exclude(holder=first).aexists()  # nobody took over yet
                await socket.send(json.dumps({"type": "item", "item": {
                    "id": done["item"]["id"], "role": "assistant", "kind": "function_call",
                    "text": done["item"]["arguments"], "order": 9}}))

                second = await wait_until(
                    lambda: CallLease.objects.filter(call_id=call_id, joined_at__isnull=False)
                    .exclude(holder__in=["", first]).values_list("holder", flat=True).first(),
                    timeout=15,
                )
                # Taken over and joined again within 15 s of the kill.
                assert asyncio.get_running_loop().time() - started < 15
                assert second != first
                await caller.wait_for(
                    "conversation.item.added", lambda e: e["item"]["type"] == "function_call_output"
                    and e["item"]["call_id"] == done["item"]["call_id"], after=mark, timeout=20,
                )
                await wait_until(lambda: Review.objects.filter(session_id=grant["session_id"]).count() == 2)
                await replied(mark)
                # And the calls after the takeover are the new holder's as usual.
                await say("gato", 3)
            # Nothing the first holder ran was run again by the second.
            assert await ToolCall.objects.filter(session_id=grant["session_id"]).acount() == 3
            assert await Review.objects.filter(session_id=grant["session_id"]).acount() == 3
        finally:
            for worker in workers:
                worker.stop()
            await caller.close()
            await client.aclose()
