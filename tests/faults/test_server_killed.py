"""daphne killed with SIGKILL mid-session and started again on the same port: the page resumes
(its socket reconnects and resends its outbox; its call is re-minted for the same session),
every item is saved exactly once, and the hang-ups that came due while no server ran are
carried out after the restart: the sweep that runs when the resumed call is reported ends
another learner's overdue session and sends its call's hang-up to the stand-in, and
``manage.py end_overdue_sessions`` then finds nothing left to do."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from accounts.models import User
from tests.conftest import PASSWORD
from tests.faults.helpers import page_settled
from tests.support.daphne import REPO, daphne_running, database_url_for_tests, free_port
from tests.support.people import learner_with_words
from tutor.models import ConversationItem, TutorSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 30_000
# The page's states over time, so a test can wait for "reconnecting" and then "live" again.
STATE_LOG = """
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("tutor");
  if (!root) return;
  window.tutorStates = [];
  new MutationObserver(() => {
    const last = window.tutorStates[window.tutorStates.length - 1];
    if (root.dataset.state !== last) window.tutorStates.push(root.dataset.state);
  }).observe(root, { attributes: true, attributeFilter: ["data-state"] });
});
"""
RESUMED = "() => { const s = window.tutorStates || []; return s.includes('reconnecting') && s[s.length - 1] === 'live'; }"
EMAIL = "kira@example.com"
ENV = {"REALTIME_STANDIN": "on", "OPENAI_API_KEY": ""}


@sync_to_async
def make_learner() -> User:
    return learner_with_words(
        email=EMAIL, name="Kira", password=PASSWORD, list_name="Casa", words=[("gato", "cat"), ("perro", "dog")]
    )


LOST_CALL = "rtc_lost_with_the_server"


@sync_to_async
def overdue_session_make() -> TutorSession:
    """Lena's live call on the server about to die: its hang-up is an hour away for now."""
    lena = User.objects.create_user(email="lena@example.com", display_name="Lena")
    kiras = TutorSession.objects.get(learner__email=EMAIL)
    now = dt.datetime.now(dt.timezone.utc)
    return TutorSession.objects.create(
        learner=lena, model="gpt-realtime", voice="marin", instructions="", status=TutorSession.Status.LIVE,
        call_id=LOST_CALL, connected_at=now, hangup_at=now + dt.timedelta(hours=1),
        upstream_base_url=kiras.upstream_base_url,
    )


@sync_to_async
def come_due(session: TutorSession) -> dt.datetime:
    """The hang-up time passes while no server runs."""
    due = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    TutorSession.objects.filter(pk=session.pk).update(hangup_at=due)
    return due


@sync_to_async
def session_reloaded(session: TutorSession) -> TutorSession:
    return TutorSession.objects.get(pk=session.pk)


async def ended(session: TutorSession, timeout_s: float = 15.0) -> TutorSession:
    deadline = time.monotonic() + timeout_s
    while (current := await session_reloaded(session)).status != TutorSession.Status.ENDED:
        if time.monotonic() > deadline:
            return current
        await asyncio.sleep(0.2)
    return current


def end_overdue_sessions_command() -> str:
    """``manage.py end_overdue_sessions`` as cron runs it: its own process, the same database."""
    env = {**os.environ, **ENV, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url_for_tests()}
    done = subprocess.run(
        [sys.executable, "manage.py", "end_overdue_sessions"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@sync_to_async
def saved_items() -> list[ConversationItem]:
    session = TutorSession.objects.get(learner__email=EMAIL)
    return list(ConversationItem.objects.filter(session=session).order_by("order"))


async def pending(page) -> int:
    hidden = await page.evaluate("() => document.querySelector('[data-pending]').hidden")
    return 0 if hidden else int(await page.text_content("[data-pending-count]"))


async def say(page, text: str) -> None:
    await page.fill("#typed-message", text)
    await page.click("[data-composer] button[type=submit]")


async def test_the_page_resumes_after_the_server_is_killed_and_saves_each_item_once(chromium):
    await make_learner()
    port = free_port()
    swallow_acks = {"on": False}
    sockets = []

    def route(ws):
        server = ws.connect_to_server()
        sockets.append(ws)
        server.on_message(lambda m: None if swallow_acks["on"] and '"ack"' in m else ws.send(m))
        ws.on_message(lambda m: server.send(m))

    page = await chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.route_web_socket("**/ws/tutor/sessions/**", route)
    await page.add_init_script(STATE_LOG)

    with daphne_running(port=port, env=ENV) as first:
        base = first.base_url
        await page.goto(f"{base}/accounts/login/")
        await page.fill("input[name=login]", EMAIL)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form button[type=submit]")
        await page.goto(f"{base}/tutor/")
        await page.click('[data-action="start"]')
        await page.wait_for_selector('#tutor[data-state="live"]', timeout=TIMEOUT_MS)
        await page.click('[data-action="mute"]')
        await page.wait_for_selector(
            "li.turn-assistant[data-saved=true]", timeout=TIMEOUT_MS
        )  # the greeting
        lenas = await overdue_session_make()

        # Saved by the server but never acknowledged to the page, then the server dies.
        swallow_acks["on"] = True
        await say(page, "Hola, me llamo Kira")
        await page.wait_for_function(
            "() => document.querySelectorAll('li.turn-assistant').length >= 2", timeout=TIMEOUT_MS
        )
        await asyncio.sleep(1.0)  # the tutor's reply completes and is sent, unacknowledged
        assert await pending(page) >= 2
        first.kill()
        swallow_acks["on"] = False
        lenas_due = await come_due(lenas)

    with daphne_running(port=port, env=ENV) as second:
        # The socket comes back and empties the outbox; the call is re-minted for the same session.
        await page.wait_for_function(
            "() => document.querySelector('[data-pending]').hidden", timeout=TIMEOUT_MS
        )
        await page.wait_for_function(RESUMED, timeout=TIMEOUT_MS)
        await say(page, "Tengo un perro")
        await page.wait_for_function(
            "() => [...document.querySelectorAll('li.turn-user[data-saved=true]')]"
            ".some(li => li.textContent.includes('Tengo un perro'))",
            timeout=TIMEOUT_MS,
        )
        await page_settled(page, TIMEOUT_MS)
        lenas = await ended(lenas)  # by the sweep that ran when the resumed call was reported
        page_ids = await page.eval_on_selector_all(
            "[data-item-id][data-saved=true]", "els => els.map(e => e.dataset.itemId)"
        )
        outboxes = await page.evaluate(
            "() => Object.keys(localStorage).filter(k => k.startsWith('parlance.outbox.')).length"
        )
        log = second.log()
        command_output = await sync_to_async(end_overdue_sessions_command)()

    saved = await saved_items()
    await sync_to_async(
        connections.close_all
    )()  # the ORM thread's connection, before the test DB goes
    saved_ids = [item.item_id for item in saved]
    texts = [item.text for item in saved]
    assert len(saved_ids) == len(set(saved_ids))  # exactly once
    assert set(page_ids) == set(saved_ids)  # nothing the page showed is missing, nothing extra
    assert "Hola, me llamo Kira" in texts and "Tengo un perro" in texts
    assert len(sockets) >= 2 and outboxes == 0
    assert errors == []
    assert "Traceback" not in log
    # The hang-up that came due while no server ran was carried out after the restart: the
    # session ended at its hang-up time, and its call's hang-up reached the stand-in (which
    # no longer had the call: it died with the first server).
    assert (lenas.status, lenas.end_reason, lenas.ended_at) == (TutorSession.Status.ENDED, "time_limit", lenas_due)
    assert f"/standin/v1/realtime/calls/{LOST_CALL}/hangup" in log
    assert f"Could not hang up the call of session {lenas.pk}" in log
    assert "No overdue sessions." in command_output
