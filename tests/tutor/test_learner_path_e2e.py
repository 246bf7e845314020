"""The learner's path in real Chromium against daphne: sign in, dashboard, flashcards, a written
test, the grade on the dashboard, and a voice session's recap; on a desktop and on a phone.

Screenshots of each page go to ``artifacts/`` (not committed) for a person to look at.
"""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import sync_to_async

from tests.support.browser import CheckedBrowser
from django.utils import timezone

from accounts.models import User
from tests.conftest import PASSWORD
from tests.support.people import server_hashed_password
from tutor.models import (
    Assignment,
    Review,
    TestResult,
    TutorSession,
    Word,
    WordList,
    WordProgress,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
EMAIL = "nora@example.com"
VOCABULARY = {
    "cat": "gato",
    "dog": "perro",
    "house": "casa",
    "water": "agua",
    "bird": "pájaro",
    "tree": "árbol",
    "book": "libro",
    "bread": "pan",
}


@sync_to_async
def make_learner() -> tuple[User, TutorSession]:
    learner = User.objects.create_user(email=EMAIL, display_name="Nora", target_language="es", cefr_level="A2")
    server_hashed_password(learner, PASSWORD)
    words = WordList.objects.create(name="Everyday Spanish", language="es")
    for position, (meaning, term) in enumerate(VOCABULARY.items()):
        Word.objects.create(word_list=words, term=term, meaning=meaning, position=position, part_of_speech="noun")
    Assignment.objects.create(learner=learner, word_list=words)

    now = timezone.now()
    session = TutorSession.objects.create(
        learner=learner,
        model="gpt-realtime",
        voice="marin",
        instructions="",
        status=TutorSession.Status.ENDED,
        focus_words=["gato", "perro", "casa", "pájaro"],
        connected_at=now - dt.timedelta(minutes=6, seconds=12),
        ended_at=now,
        end_reason="user",
    )
    for order, (role, text) in enumerate(
        [
            ("assistant", "¡Hola Nora! ¿Tienes animales en casa?"),
            ("user", "Sí, tengo un gato y un perro."),
            ("assistant", "¡Qué bien! ¿Cómo se llama tu gato?"),
            ("user", "Mi gato se llama Luna."),
        ]
    ):
        session.items.create(item_id=f"item_{order}", role=role, text=text, order=order)
    Review.objects.create(
        learner=learner, word=Word.objects.get(term="perro"), outcome="hesitant", source="voice", session=session
    )
    return learner, session


def Browser(context, name: str) -> CheckedBrowser:
    return CheckedBrowser(context, name, prefix="learner")


async def signed_in(chromium, base_url: str, name: str, viewport: dict, **options):
    context = await chromium.new_context(viewport=viewport, **options)
    browser = Browser(context, name)
    page = await browser.page()
    await page.goto(f"{base_url}/accounts/login/")
    await page.fill("input[name=login]", EMAIL)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_url(f"{base_url}/")
    return browser, page


async def answer_test(page, *, wrong: int) -> None:
    """Answer every question right except the ``wrong``-th (counting from 0)."""
    questions = page.locator("li.question")
    for index in range(await questions.count()):
        question = questions.nth(index)
        term = VOCABULARY[(await question.locator(".question-prompt").text_content()).strip()]
        if await question.get_attribute("data-kind") == "choice":
            labels = question.locator("label.option")
            texts = [text.strip() for text in await labels.all_text_contents()]
            choice = next(t for t in texts if t != term) if index == wrong else term
            await labels.nth(texts.index(choice)).click()
        else:
            # Capitals and missing accents are fine.
            typed = "no sé" if index == wrong else term.upper().replace("Á", "A")
            await question.locator("input[type=text]").fill(typed)


@sync_to_async
def progress_summary(learner: User) -> dict:
    return {
        "reviews": dict(
            (source, Review.objects.filter(learner=learner, source=source).count())
            for source in ("flashcard", "test", "voice")
        ),
        "reviewed_words": WordProgress.objects.filter(learner=learner, last_reviewed_at__isnull=False).count(),
        "results": list(TestResult.objects.filter(learner=learner).values_list("score", "max_score", "source")),
        "again": WordProgress.objects.filter(learner=learner, last_result="incorrect").count(),
    }


async def test_a_learner_reviews_takes_a_test_and_sees_the_grade(chromium, daphne_server):
    learner, session = await make_learner()
    base = daphne_server.base_url
    desktop, page = await signed_in(chromium, base, "desktop", DESKTOP)
    before = await progress_summary(learner)
    assert before["reviewed_words"] == 0 and before["results"] == []

    # Dashboard
    assert await page.text_content("[data-stat=new]") == "8"
    await desktop.check(page, "dashboard-before")

    # Flashcards: the mouse for the first card, the keyboard (review.js) for the second.
    await page.click("a[data-action=review]")
    await page.wait_for_url(f"{base}/review/")
    assert "Card 1 of 8" in await page.text_content("[data-review-progress]")
    assert not await page.locator("button.grade-good").is_visible()
    await desktop.check(page, "review-card")
    await page.click(".flashcard-answer summary")
    await page.locator("button.grade-good").wait_for(state="visible")
    await desktop.check(page, "review-answer")
    await page.click("button.grade-good")
    await page.wait_for_function("() => document.querySelector('[data-review-progress]').textContent.includes('Card 2 of 8')")
    await page.wait_for_selector("#flashcard[data-keys=ready]")
    await page.keyboard.press("Space")
    await page.locator("button.grade-hard").wait_for(state="visible")
    await page.keyboard.press("2")
    await page.wait_for_function("() => document.querySelector('[data-review-progress]').textContent.includes('Card 3 of 8')")
    await page.click(".flashcard-answer summary")
    await page.click("button.grade-again")
    await page.wait_for_function("() => document.querySelector('[data-review-progress]').textContent.includes('Card 4 of 8')")
    # Key 4 is Easy; the speak button is shown where the browser can speak.
    await page.wait_for_selector("#flashcard[data-keys=ready]")
    has_speech = await page.evaluate("() => 'speechSynthesis' in window")
    assert await page.locator("[data-speak]").is_visible() == has_speech
    if has_speech:
        await page.click("[data-speak]")
    await page.keyboard.press("Space")
    await page.locator("button.grade-easy").wait_for(state="visible")
    assert (await page.text_content("button.grade-easy [data-when]")).strip() == "8 d"
    await page.keyboard.press("4")
    await page.wait_for_function("() => document.querySelector('[data-review-progress]').textContent.includes('Card 5 of 8')")

    after_review = await progress_summary(learner)
    assert after_review["reviews"]["flashcard"] == 4 and after_review["reviewed_words"] == 4
    assert after_review["again"] == 1

    # Written test: everything right but one.
    await page.click("nav >> text=Test")
    await page.wait_for_url(f"{base}/test/")
    assert await page.locator("li.question").count() == 8
    assert await page.locator("li.question[data-kind=choice]").count() == 4
    await answer_test(page, wrong=0)
    await desktop.check(page, "written-test")
    await page.click("form.written-test button[type=submit]")
    await page.wait_for_url(f"{base}/test/results/*/")
    assert "7/8" in await page.text_content(".result-grade")
    assert await page.locator("tr.miss").count() == 1
    await desktop.check(page, "test-result")

    # The grade on the dashboard: in the list and on the chart.
    await page.click("text=← Dashboard")
    await page.wait_for_url(f"{base}/")
    assert "7/8" in await page.text_content(".grades")
    assert await page.locator(".chart circle.dot").count() >= 1
    await desktop.check(page, "dashboard-after")

    after = await progress_summary(learner)
    assert after["results"] == [(7, 8, "written")]
    assert after["reviews"]["test"] == 8 and after["reviewed_words"] == 8

    # A past voice session: its recap from the dashboard's session list.
    await page.click(f"a[href='/sessions/{session.pk}/']")
    await page.wait_for_url(f"{base}/sessions/{session.pk}/")
    practised = await page.locator("[data-recap-list=practised] li").all_text_contents()
    assert [text.split()[0] for text in practised] == ["gato", "perro"]
    assert await page.text_content("[data-recap-stat=minutes]") == "6.2"
    await desktop.check(page, "session-recap")
    await desktop.context.close()
    assert desktop.errors == []


async def test_the_learner_pages_fit_a_phone(chromium, daphne_server):
    learner, session = await make_learner()
    base = daphne_server.base_url
    phone, page = await signed_in(chromium, base, "phone", PHONE, is_mobile=True, has_touch=True)
    await phone.check(page, "dashboard-before")

    await page.goto(f"{base}/review/")
    await page.tap(".flashcard-answer summary")
    await page.locator("button.grade-good").wait_for(state="visible")
    await phone.check(page, "review-answer")
    await page.tap("button.grade-good")
    for card in range(2, 9):
        await page.wait_for_function(
            "n => document.querySelector('[data-review-progress]').textContent.includes(`Card ${n} of 8`)", arg=card
        )
        await page.tap(".flashcard-answer summary")
        await page.tap("button.grade-again" if card == 2 else "button.grade-good")
    await page.locator("[data-review-done]").wait_for()
    assert "Round done: 8 cards" in await page.text_content("[data-review-done] h2")
    await phone.check(page, "review-done")

    await page.goto(f"{base}/test/")
    await answer_test(page, wrong=1)
    await phone.check(page, "written-test")
    await page.tap("form.written-test button[type=submit]")
    await page.wait_for_url(f"{base}/test/results/*/")
    await phone.check(page, "test-result")

    await page.goto(f"{base}/")
    assert "7/8" in await page.text_content(".grades")
    # The chart's axis text is legible on a phone (it was 6-7 px when the drawing was scaled down).
    heights = await page.eval_on_selector_all(".chart text.axis", "els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 10, heights
    await phone.check(page, "dashboard-after")

    await page.goto(f"{base}/sessions/{session.pk}/")
    await phone.check(page, "session-recap")
    await page.goto(f"{base}/tutor/")
    await phone.check(page, "tutor")
    await phone.context.close()
    assert phone.errors == []
    assert (await progress_summary(learner))["results"] == [(7, 8, "written")]
