"""The tutor page end to end: real Chromium, daphne, the stand-in and the database.

From sign-in: a spoken turn from the fake microphone, a typed turn that makes the
tutor call a tool, a dropped conversation socket, and ending the session.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from accounts.models import User
from tests.conftest import PASSWORD
from tests.support.people import learner_with_words
from tutor.models import ConversationItem, Review, TutorSession, WordProgress

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000
ARTIFACTS = Path(os.environ.get("PARLANCE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


@sync_to_async
def make_learner() -> User:
    return learner_with_words(
        email="lena@example.com",
        name="Lena",
        password=PASSWORD,
        list_name="Animals",
        words=[("gato", "cat"), ("perro", "dog"), ("pájaro", "bird")],
    )


async def signed_in_tutor_page(chromium, base_url: str):
    page = await chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(f"{base_url}/accounts/login/")
    await page.fill("input[name=login]", "lena@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_url(f"{base_url}/")
    await page.click("text=Talk with your tutor")
    await page.wait_for_url(f"{base_url}/tutor/")
    page.errors = errors
    return page


async def start_session(page) -> None:
    await page.click('[data-action="start"]')
    await page.wait_for_selector('#tutor[data-state="live"]', timeout=TIMEOUT_MS)


async def mute(page) -> None:
    await page.click('[data-action="mute"]')
    assert await page.get_attribute('[data-action="mute"]', "aria-pressed") == "true"


async def type_message(page, text: str) -> None:
    await page.fill("#typed-message", text)
    await page.click("[data-composer] button[type=submit]")


async def saved_turns(page, selector: str, count: int = 1) -> list[str]:
    """Wait until ``count`` turns matching ``selector`` are acknowledged; return their item ids."""
    try:
        await page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel + '[data-saved=true]').length >= n",
            arg=[selector, count],
            timeout=TIMEOUT_MS,
        )
    except Exception:
        print("TRANSCRIPT", repr(await page.inner_html("[data-transcript]")), await page.get_attribute("#tutor", "data-state"), repr(await page.text_content("[data-notice]")))
        raise
    return await page.eval_on_selector_all(f"{selector}[data-saved=true]", "els => els.map(e => e.dataset.itemId)")


@sync_to_async
def saved_items(session_id: int) -> list[ConversationItem]:
    return list(ConversationItem.objects.filter(session_id=session_id).order_by("order"))


async def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_a_spoken_turn_is_transcribed_answered_and_saved(chromium, daphne_server):
    await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await start_session(page)

    user_ids = await saved_turns(page, "li.turn-user")
    assistant_ids = await saved_turns(page, "li.turn-assistant", 2)  # the greeting and a reply
    await screenshot(page, "tutor-voice-turn")

    session = await sync_to_async(TutorSession.objects.get)(learner__email="lena@example.com")
    items = {item.item_id: item for item in await saved_items(session.pk)}
    assert set(user_ids) | set(assistant_ids) <= set(items)
    learner_text = items[user_ids[0]].text
    assert learner_text and learner_text != "…"
    assert "gato" in learner_text or learner_text.startswith("[speech")
    assert all(items[i].role == "assistant" and items[i].text for i in assistant_ids)
    assert session.status == TutorSession.Status.LIVE and session.call_id.startswith("rtc_")
    assert page.errors == []


async def test_a_typed_focus_word_calls_the_tool_and_updates_progress(chromium, daphne_server):
    learner = await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await start_session(page)
    await mute(page)

    await type_message(page, "Mi gato es negro")
    await saved_turns(page, '[data-kind="function_call"]')
    await saved_turns(page, '[data-kind="function_call_output"]')
    # After the tool output the tutor answers again, mentioning the word.
    await page.wait_for_function(
        "() => [...document.querySelectorAll('li.turn-assistant[data-saved=true]')].some(li => li.textContent.includes('gato'))",
        timeout=TIMEOUT_MS,
    )
    await screenshot(page, "tutor-tool-call")

    progress = await sync_to_async(WordProgress.objects.get)(learner=learner, word__term="gato")
    assert progress.last_reviewed_at is not None and progress.correct_count == 1
    review = await sync_to_async(Review.objects.get)(learner=learner, word__term="gato")
    assert review.source == Review.Source.VOICE and review.session_id is not None
    assert page.errors == []


async def test_a_word_repeated_in_one_session_is_one_scheduled_review(chromium, daphne_server):
    learner = await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await start_session(page)
    await mute(page)
    for times in range(1, 4):
        await type_message(page, "El gato, el gato, el gato")
        await saved_turns(page, '[data-kind="function_call_output"]', times)

    def counts():
        reviews = Review.objects.filter(learner=learner, word__term="gato")
        progress = WordProgress.objects.get(learner=learner, word__term="gato")
        return reviews.count(), reviews.filter(scheduled=True).count(), progress.repetitions, progress.state

    assert await sync_to_async(counts)() == (3, 1, 1, "learning")
    assert page.errors == []


async def test_a_dropped_socket_loses_nothing_and_saves_each_item_once(chromium, daphne_server):
    await make_learner()
    page = await chromium.new_page()
    sockets = []
    swallow_acks = {"on": False}

    def route(ws):
        server = ws.connect_to_server()
        sockets.append(ws)

        def to_page(message):
            if swallow_acks["on"] and '"ack"' in message:
                return  # the server saved it, but the page never hears so
            ws.send(message)

        ws.on_message(lambda message: server.send(message))
        server.on_message(to_page)

    await page.route_web_socket("**/ws/tutor/sessions/**", route)
    await page.goto(f"{daphne_server.base_url}/accounts/login/")
    await page.fill("input[name=login]", "lena@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form button[type=submit]")
    await page.goto(f"{daphne_server.base_url}/tutor/")
    await start_session(page)
    await mute(page)
    await saved_turns(page, "li.turn-assistant")  # the greeting, acknowledged normally

    # Acks go missing, then the socket drops: the page must resend from its outbox.
    swallow_acks["on"] = True
    await type_message(page, "Hola, ¿qué tal?")
    await page.wait_for_function(
        "() => document.querySelectorAll('li.turn-assistant').length >= 2 && "
        "!document.querySelector('[data-pending]').hidden",
        timeout=TIMEOUT_MS,
    )
    await asyncio.sleep(1.0)  # let the tutor's reply finish and be sent (unacknowledged)
    pending_before = int(await page.text_content("[data-pending-count]"))
    assert pending_before >= 2
    swallow_acks["on"] = False
    await sockets[-1].close()

    await page.wait_for_function("() => document.querySelector('[data-pending]').hidden", timeout=TIMEOUT_MS)
    assert len(sockets) >= 2  # it reconnected
    page_ids = await page.eval_on_selector_all("[data-item-id][data-saved=true]", "els => els.map(e => e.dataset.itemId)")

    session = await sync_to_async(TutorSession.objects.get)(learner__email="lena@example.com")
    saved = await saved_items(session.pk)
    saved_ids = [item.item_id for item in saved]
    assert len(saved_ids) == len(set(saved_ids))
    assert set(page_ids) == set(saved_ids)
    assert "Hola, ¿qué tal?" in [item.text for item in saved]
    assert await page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('parlance.outbox.')).length") == 0


async def test_ending_the_session_records_its_duration(chromium, daphne_server):
    await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await start_session(page)
    await mute(page)
    await saved_turns(page, "li.turn-assistant")
    await asyncio.sleep(1.0)

    await page.click('[data-action="end"]')
    await page.wait_for_selector('#tutor[data-state="ended"]')
    notice = page.locator("[data-notice]")
    await notice.wait_for(state="visible")
    assert "Session ended after" in await notice.text_content()

    session = await sync_to_async(TutorSession.objects.get)(learner__email="lena@example.com")
    recap = page.locator("[data-notice] a[data-recap-link]")
    assert await recap.get_attribute("href") == f"/sessions/{session.pk}/"
    await recap.click()
    await page.wait_for_url(f"{daphne_server.base_url}/sessions/{session.pk}/")
    assert session.status == TutorSession.Status.ENDED
    assert session.end_reason == "user"
    assert session.duration is not None and session.duration.total_seconds() >= 1.0
    assert page.errors == []
