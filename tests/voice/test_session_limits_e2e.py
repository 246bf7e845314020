"""Limits and resume end to end: real Chromium, daphne, the stand-in and the database.

- The server ends a call at its time limit (a 6-second cap in a daphne of this module's own):
  the page says time is up and does not reconnect, and the stand-in's call is gone.
- The stand-in drops a call: the page shows "reconnecting", resumes the same tutor session
  with a new call whose instructions recap the saved turns, and the conversation goes on with
  every item saved once.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from standin.models import ClientSecret
from tests.support.daphne import daphne_running
from tests.voice.test_voice_session_e2e import (
    TIMEOUT_MS,
    make_learner,
    mute,
    saved_items,
    saved_turns,
    screenshot,
    signed_in_tutor_page,
    start_session,
    type_message,
)
from tutor.models import MintEvent, TutorSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CAP_MINUTES = "0.1"  # six seconds

RECORD_STATES = """() => {
  window.tutorStates = [document.querySelector('#tutor').dataset.state];
  new MutationObserver(() => window.tutorStates.push(document.querySelector('#tutor').dataset.state))
    .observe(document.querySelector('#tutor'), { attributes: true, attributeFilter: ['data-state'] });
}"""


@pytest.fixture(scope="module")
def capped_server(request, django_db_setup, django_db_blocker):
    """The app under daphne with every session capped at six seconds."""
    failed_before = request.session.testsfailed
    env = {"REALTIME_STANDIN": "on", "OPENAI_API_KEY": "", "TUTOR_MAX_SESSION_MINUTES": CAP_MINUTES}
    with daphne_running(env=env) as server:
        yield server
        if request.session.testsfailed > failed_before:
            print(f"\n----- daphne log ({server.base_url}) -----\n{server.log()[-20000:]}")


@sync_to_async
def the_session() -> TutorSession:
    return TutorSession.objects.get(learner__email="lena@example.com")


@sync_to_async
def mints(session: TutorSession) -> int:
    """Keys minted for ``session``: its first (the session itself) and one event per later key."""
    return 1 + MintEvent.objects.filter(session=session).count()


@sync_to_async
def latest_instructions() -> str:
    return ClientSecret.objects.order_by("-created_at", "-pk").first().session["instructions"]


async def call_id_other_than(old: str, timeout_s: float = TIMEOUT_MS / 1000) -> str:
    for _ in range(int(timeout_s * 10)):
        session = await the_session()
        if session.call_id and session.call_id != old:
            return session.call_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"the session kept call {old!r}")


async def hang_up(base_url: str, call_id: str) -> int:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base_url}/standin/v1/realtime/calls/{call_id}/hangup",
            headers={"Authorization": f"Bearer {settings.STANDIN_API_KEY}"},
        )
    return response.status_code


async def test_the_server_ends_the_call_at_the_cap_and_the_page_does_not_reconnect(chromium, capped_server):
    await make_learner()
    page = await signed_in_tutor_page(chromium, capped_server.base_url)
    await page.evaluate(RECORD_STATES)
    await start_session(page)
    await mute(page)
    # The countdown shows once the server has the call (its socket opens as the session goes live).
    await page.wait_for_selector("[data-time-left]", state="visible", timeout=TIMEOUT_MS)

    await page.wait_for_selector('#tutor[data-state="ended"]', timeout=TIMEOUT_MS)
    notice = page.locator("[data-notice]")
    await notice.wait_for(state="visible")
    assert "This session reached its 0.1-minute limit." in await notice.text_content()
    await screenshot(page, "tutor-time-up")

    session = await the_session()
    assert (session.status, session.end_reason) == ("ended", "time_limit")
    assert (session.hangup_at - session.minted_at).total_seconds() == pytest.approx(6, abs=0.01)
    assert session.ended_at == session.hangup_at
    # The server hung up: the stand-in no longer has the call.
    assert await hang_up(capped_server.base_url, session.call_id) == 404

    await asyncio.sleep(3)  # long enough for a resume (a mint and a new call) to show
    assert await page.get_attribute("#tutor", "data-state") == "ended"
    assert "reconnecting" not in await page.evaluate("() => window.tutorStates")
    assert await mints(session) == 1
    assert (await the_session()).call_id == session.call_id
    assert await page.is_hidden("[data-time-left]")
    assert page.errors == []


async def test_a_dropped_call_resumes_the_same_session_with_a_recap(chromium, daphne_server):
    await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await start_session(page)
    await mute(page)
    greeting_ids = await saved_turns(page, "li.turn-assistant")
    first_call = await call_id_other_than("")
    await page.evaluate(RECORD_STATES)

    assert await hang_up(daphne_server.base_url, first_call) == 200

    second_call = await call_id_other_than(first_call)
    await page.wait_for_selector('#tutor[data-state="live"]', timeout=TIMEOUT_MS)
    assert "reconnecting" in await page.evaluate("() => window.tutorStates")
    session = await the_session()
    assert (session.status, await mints(session)) == ("live", 2)
    assert second_call.startswith("rtc_")

    instructions = await latest_instructions()
    assert instructions.startswith(session.instructions)
    assert "The call dropped and has just reconnected." in instructions
    # The greeting as saved (speech from the microphone may have cut it short).
    greeting = next(item for item in await saved_items(session.pk) if item.item_id == greeting_ids[0])
    assert greeting.text.startswith("Hello!")
    assert f"\n- Tutor: {greeting.text}" in instructions

    # The conversation goes on in the new call, in the same transcript.
    await type_message(page, "Mi perro es grande")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('li.turn-assistant[data-saved=true]')]"
        ".some(li => li.textContent.includes('perro'))",
        timeout=TIMEOUT_MS,
    )
    await page.wait_for_function("() => document.querySelector('[data-pending]').hidden", timeout=TIMEOUT_MS)
    await screenshot(page, "tutor-resumed")

    page_items = await page.eval_on_selector_all(
        "[data-item-id][data-saved=true]", "els => els.map(e => e.dataset.itemId)"
    )
    saved = await saved_items(session.pk)
    saved_ids = [item.item_id for item in saved]
    assert len(saved_ids) == len(set(saved_ids))  # nothing saved twice
    # Every item the page showed is saved; the server's sideband may have seen more than the
    # page showed (it saves every item of the call), and those are marked as seen by it.
    assert set(page_items) <= set(saved_ids)
    extra = [item for item in saved if item.item_id not in page_items]
    assert all(item.verified for item in extra)
    assert greeting_ids[0] in saved_ids
    assert "Mi perro es grande" in [item.text for item in saved]
    orders = [item.order for item in saved]
    assert len(orders) == len(set(orders))  # the order goes on after the resume
    by_id = {item.item_id: item for item in saved}
    typed = next(item for item in saved if item.text == "Mi perro es grande")
    assert typed.order > by_id[greeting_ids[0]].order
    assert page.errors == []
