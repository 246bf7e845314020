"""A voice session in strict mode (REALTIME_CALL_SETUP=server), end to end: real Chromium, daphne
and the stand-in. The page never holds a key; the server creates its call and knows its id."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.support.daphne import daphne_running
from tests.voice.test_voice_session_e2e import (
    TIMEOUT_MS,
    make_learner,
    mute,
    saved_turns,
    screenshot,
    signed_in_tutor_page,
    start_session,
    type_message,
)
from tutor.models import Review, TutorSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def strict_server(transactional_db):
    with daphne_running(env={"REALTIME_STANDIN": "on", "OPENAI_API_KEY": "", "REALTIME_CALL_SETUP": "server"}) as running:
        yield running


async def test_a_strict_session_runs_from_the_servers_call_and_its_id(chromium, strict_server):
    learner = await make_learner()
    page = await signed_in_tutor_page(chromium, strict_server.base_url)
    requests: list[tuple[str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.headers.get("authorization", ""))))
    await start_session(page)
    await mute(page)

    await type_message(page, "Mi gato es negro")
    await saved_turns(page, '[data-kind="function_call_output"]')  # behind the tool chip
    await page.wait_for_function(
        "() => [...document.querySelectorAll('li.turn-assistant[data-saved=true]')].some(li => li.textContent.includes('gato'))",
        timeout=TIMEOUT_MS,
    )
    await screenshot(page, "tutor-strict-1280")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "tutor-strict-390")

    session = await sync_to_async(TutorSession.objects.get)(learner=learner)
    assert session.status == TutorSession.Status.LIVE and session.call_id.startswith("rtc_")
    assert session.keys_unreported == 0
    # The page sent its offer to Parlance, never to the Realtime API, and never with a key.
    posts = [(url, auth) for method, url, auth in requests if method == "POST"]
    assert any(url.endswith("/tutor/calls/") for url, _ in posts)
    assert not any("/standin/" in url for url, _ in posts)
    assert not any(auth for _, auth in posts)
    # The countdown came from the page's call report, checked against the server's own id.
    assert await page.is_visible("[data-time-left]")
    review = await sync_to_async(Review.objects.get)(learner=learner, word__term="gato")
    assert review.session_id == session.pk

    await page.click('[data-action="end"]')
    await page.wait_for_selector('#tutor[data-state="ended"]', timeout=TIMEOUT_MS)
    for _ in range(50):  # the end reaches the server over the socket
        await sync_to_async(session.refresh_from_db)()
        if session.status == TutorSession.Status.ENDED:
            break
        await asyncio.sleep(0.2)
    assert session.status == TutorSession.Status.ENDED
    assert page.errors == []


@pytest.mark.parametrize("mode, server_fixture, calls_path", [
    ("server", "strict_server", "/tutor/calls/"),
    ("browser", "daphne_server", "/standin/v1/realtime/calls"),
])
async def test_the_connect_time_fits_in_the_shortest_key_life(chromium, request, mode, server_fixture, calls_path):
    """Key minted to call created, as the page sees it (its own resource timings), in both
    modes: REALTIME_TOKEN_TTL_SECONDS keeps a wide margin over it (README, Limits and costs)."""
    from django.conf import settings

    server = request.getfixturevalue(server_fixture)
    await make_learner()
    page = await signed_in_tutor_page(chromium, server.base_url)
    await start_session(page)
    spans = await page.evaluate(
        """(callsPath) => {
          const entries = performance.getEntriesByType("resource");
          const token = entries.find(e => e.name.endsWith("/tutor/token/"));
          const call = entries.find(e => e.name.endsWith(callsPath));
          return {mint_to_call_ms: call.responseEnd - token.responseEnd, call_ms: call.duration};
        }""",
        calls_path,
    )
    print(f"connect time ({mode})", spans)
    assert spans["mint_to_call_ms"] < 5_000
    # The key's life is at least the API's minimum and keeps the page's reuse margin (keys.js).
    assert 10 <= settings.REALTIME_TOKEN_TTL_SECONDS and spans["mint_to_call_ms"] < settings.REALTIME_TOKEN_TTL_SECONDS * 100
