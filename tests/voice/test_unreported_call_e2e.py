"""Keys, calls and windows end to end: real Chromium, daphne, the stand-in.

- A tampered page that never reports its call: the session stays charged up to its hang-up
  time after the page says it ended, and the learner cannot start another session meanwhile.
- An honest page whose first connect fails: "Try again" reuses the same key, so nothing is
  owed and nothing extra is charged.
- A session open in one window is continued in another: the first window stops without
  ending it or fighting back, and the server hangs up its call.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from tests.voice.test_session_limits_e2e import hang_up, mints, the_session
from tests.voice.test_voice_session_e2e import (
    TIMEOUT_MS,
    make_learner,
    mute,
    screenshot,
    signed_in_tutor_page,
    start_session,
)
from accounts.models import User
from voice.limits import limit_sessions, seconds_used
from voice.metering import session_charge_end

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What a learner could paste into the console: the page never tells the server its call id.
DROP_CALL_REPORTS = """(() => {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try { if (JSON.parse(data).type === "call") return; } catch (_) { /* not JSON */ }
    return send.call(this, data);
  };
})();"""


async def end_session(page) -> None:
    """Click "End" and wait for the notice, which follows the server's acknowledgement."""
    await page.click('[data-action="end"]')
    await page.wait_for_function(
        "() => document.querySelector('[data-notice]').textContent.includes('Session ended')",
        timeout=TIMEOUT_MS,
    )


@sync_to_async
def seconds_used_at(session, moment) -> float:
    return seconds_used(limit_sessions(learner=User.objects.get(pk=session.learner_id), now=moment), now=moment)


async def test_a_page_that_never_reports_its_call_is_charged_to_its_cap(chromium, daphne_server):
    await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await page.add_init_script(DROP_CALL_REPORTS)
    await page.reload()
    await start_session(page)
    await mute(page)

    session = await the_session()
    assert (session.call_id, session.keys_unreported) == ("", 1)

    await end_session(page)
    session = await the_session()
    assert (session.status, session.keys_unreported) == ("ended", 1)
    # The page said it ended, but the server cannot hang up a call it does not know:
    # the session counts until its hang-up time, the learner's 20 minutes.
    assert session_charge_end(session, session.ended_at) == session.hangup_at
    assert (session.hangup_at - session.minted_at).total_seconds() == pytest.approx(20 * 60, abs=1)
    assert await seconds_used_at(session, session.hangup_at) == pytest.approx(20 * 60, abs=1)

    await page.click('[data-action="start"]')
    notice = page.locator("[data-notice]")
    await notice.wait_for(state="visible")
    await page.wait_for_function(
        "() => document.querySelector('[data-notice]').textContent.includes('never told Parlance')",
        timeout=TIMEOUT_MS,
    )
    await screenshot(page, "tutor-unreported-call")
    assert await mints(session) == 1
    # Only the refused mint's answer is a console error here.
    assert [error for error in page.errors if "403" not in error] == []


async def test_a_failed_first_connect_is_tried_again_with_the_same_key(chromium, daphne_server):
    await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    refused = []

    async def refuse_once(route):
        if refused:
            await route.continue_()
            return
        refused.append(route.request.url)
        await route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": {"message": "The voice service is busy.", "code": "busy"}}),
        )

    await page.route("**/standin/v1/realtime/calls", refuse_once)
    await page.click('[data-action="start"]')
    await page.wait_for_selector('#tutor[data-state="error"]', timeout=TIMEOUT_MS)
    assert "The voice service is busy." in await page.locator("[data-notice]").text_content()
    assert (await page.text_content('[data-action="start"]')).strip() == "Try again"

    await start_session(page)
    session = await the_session()
    assert len(refused) == 1
    assert await mints(session) == 1  # the same key, not a new one
    for _ in range(50):  # the socket reports the call as the session goes live
        session = await the_session()
        if session.keys_unreported == 0:
            break
        await page.wait_for_timeout(100)
    assert session.keys_unreported == 0
    assert session.call_id.startswith("rtc_")
    assert [error for error in page.errors if "503" not in error] == []


async def test_a_session_open_in_one_window_is_continued_in_another(chromium, daphne_server):
    await make_learner()
    first = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await start_session(first)
    await mute(first)
    for _ in range(50):  # the first window's call is reported as its session goes live
        if (await the_session()).call_id:
            break
        await first.wait_for_timeout(100)
    first_call = (await the_session()).call_id
    assert first_call

    second = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await second.click('[data-action="start"]')
    await second.wait_for_selector('#tutor[data-state="error"]', timeout=TIMEOUT_MS)
    assert "continue it here" in await second.locator("[data-notice]").text_content()
    assert (await second.text_content('[data-action="start"]')).strip() == "Continue it here"

    await start_session(second)
    # Once pressed, the (disabled) button no longer offers to continue.
    start = second.locator('[data-action="start"]')
    assert await start.is_disabled() and (await start.text_content()).strip() == "Start session"
    await first.wait_for_selector('#tutor[data-state="ended"]', timeout=TIMEOUT_MS)
    assert "went on in another window" in await first.locator("[data-notice]").text_content()
    await screenshot(first, "tutor-moved-away")

    await first.wait_for_timeout(2500)  # long enough for a resume to show, were there one
    session = await the_session()
    assert session.status == "live" and session.call_id not in ("", first_call)
    assert await mints(session) == 2  # the first window did not fight back
    assert await hang_up(daphne_server.base_url, first_call) == 404  # the server hung it up
    assert await first.get_attribute("#tutor", "data-state") == "ended"

    await end_session(second)
    session = await the_session()
    assert (session.status, session.keys_unreported) == ("ended", 0)
    assert [error for error in first.errors + second.errors if "403" not in error] == []
