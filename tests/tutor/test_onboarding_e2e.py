"""A new learner's first run in real Chromium against daphne, on a desktop and on a phone:
sign up, say what they learn (or take the placement), pick a starter list, practise its
words on flashcards, and see it on the dashboard; no console errors, nothing wider than the
screen, the phone's nav in a menu that opens by touch and by keyboard.

Screenshots go to ``artifacts/`` (not committed) for a person to look at.
"""

from __future__ import annotations

import csv

import pytest
from asgiref.sync import sync_to_async

from tests.support.browser import CheckedBrowser

from accounts.models import User
from tutor.models import Review
from tutor.starter import STARTER_DIR, starter_list_name

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "a-long-pass-phrase-9"


def vocabulary(language: str) -> dict[str, str]:
    """meaning -> term of a starter list, to answer the placement the way a good learner would."""
    rows = csv.DictReader((STARTER_DIR / f"{language}.csv").open(encoding="utf-8"))
    return {row["meaning"]: row["term"] for row in rows}


def Browser(context, name: str) -> CheckedBrowser:
    return CheckedBrowser(context, name, prefix="onboarding")


async def sign_up(browser: Browser, base: str, email: str):
    page = await browser.page()
    await page.goto(f"{base}/accounts/signup/")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password1]", PASSWORD)
    await page.fill("input[name=password2]", PASSWORD)
    await browser.check(page, "signup")
    await page.click("form button[type=submit]")
    await page.wait_for_url(f"{base}/start/")
    return page


async def answer_placement(page, language: str) -> None:
    meanings = vocabulary(language)
    questions = page.locator("li.question")
    assert await questions.count() == 10
    for index in range(10):
        question = questions.nth(index)
        term = meanings[(await question.locator(".question-prompt").text_content()).strip()]
        if await question.get_attribute("data-kind") == "choice":
            labels = question.locator("label.option")
            texts = [text.strip() for text in await labels.all_text_contents()]
            await labels.nth(texts.index(term)).click()
        else:
            await question.locator("input[type=text]").fill(term)


async def flashcards(page, base: str, cards: int) -> None:
    await page.wait_for_url(f"{base}/review/")
    for card in range(1, cards + 1):
        await page.wait_for_function(
            "n => document.querySelector('[data-review-progress]').textContent.includes(`Card ${n} of 10`)", arg=card
        )
        await page.click(".flashcard-answer summary")
        await page.click("button.grade-good")


@sync_to_async
def learner_state(email: str) -> dict:
    learner = User.objects.get(email=email)
    return {
        "language": learner.target_language,
        "level": learner.cefr_level,
        "goal": learner.daily_goal_words,
        "onboarding": learner.needs_onboarding,
        "lists": list(learner.word_lists.values_list("name", flat=True)),
        "reviews": Review.objects.filter(learner=learner, source="flashcard").count(),
    }


async def test_a_new_learner_on_a_desktop_takes_the_placement_and_practises_french(chromium, daphne_server):
    base = daphne_server.base_url
    email = "claire@example.com"
    desktop = Browser(await chromium.new_context(viewport=DESKTOP), "desktop")
    page = await sign_up(desktop, base, email)

    await page.select_option("select[name=target_language]", "fr")
    await page.select_option("select[name=native_language]", "en")
    await page.fill("input[name=daily_goal_words]", "5")
    await page.check("input[name=placement]")
    await desktop.check(page, "start")
    await page.click("form[data-onboarding] button[type=submit]")
    await page.wait_for_url(f"{base}/start/placement/")
    await answer_placement(page, "fr")
    await desktop.check(page, "placement")
    await page.click("form.placement button[type=submit]")
    await page.wait_for_url(f"{base}/lists/")
    assert "10 of 10 right: your level is B2." in await page.text_content(".messages")
    await desktop.check(page, "lists")

    await page.click("[data-pick-starter]")
    await page.wait_for_url(f"{base}/")
    assert await page.text_content("[data-stat=new]") == "109"
    assert await page.locator("strong[lang=fr]", has_text="bonjour").count() == 1
    await desktop.check(page, "dashboard-new")

    await page.click("a[data-action=review]")
    await flashcards(page, base, cards=5)
    await desktop.check(page, "review")
    await page.goto(f"{base}/")
    assert await page.get_attribute("[data-goal]", "data-goal") == "5/5"
    assert "Goal reached today" in await page.text_content(".goal figcaption")
    assert await page.get_attribute("[data-streak]", "data-streak") == "1"
    await desktop.check(page, "dashboard-practised")
    # A wide screen shows the nav in a row, not the menu; down to the narrowest width that
    # still has the row, the links stay on one line.
    assert await page.locator(".nav-wide a", has_text="Sign out").is_visible()
    assert not await page.locator("[data-nav-menu]").is_visible()
    await page.set_viewport_size({"width": 770, "height": 800})
    tops = await page.eval_on_selector_all(".nav-wide a", "els => els.map(e => e.getBoundingClientRect().top)")
    assert len(tops) == 7 and len(set(tops)) == 1, tops
    await page.set_viewport_size(DESKTOP)

    state = await learner_state(email)
    assert state == {
        "language": "fr", "level": "B2", "goal": 5, "onboarding": False,
        "lists": [starter_list_name("fr")], "reviews": 5,
    }
    await desktop.context.close()
    assert desktop.errors == []


async def test_a_new_learner_on_a_phone_picks_a_level_and_practises_german(chromium, daphne_server):
    base = daphne_server.base_url
    email = "jonas@example.com"
    phone = Browser(await chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True), "phone")
    page = await sign_up(phone, base, email)

    await page.select_option("select[name=target_language]", "de")
    await page.select_option("select[name=cefr_level]", "A2")
    await phone.check(page, "start")
    await page.tap("form[data-onboarding] button[type=submit]")
    await page.wait_for_url(f"{base}/lists/")
    await phone.check(page, "lists")
    await page.tap("[data-pick-starter]")
    await page.wait_for_url(f"{base}/")
    await phone.check(page, "dashboard-new")
    # The calendar's labels are legible on a phone (not shrunk to 6 or 7 px).
    heights = await page.eval_on_selector_all("[data-heatmap] text", "els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 10, heights

    # The nav is one Menu button; it opens by touch...
    sign_out = page.locator("[data-nav-menu] a", has_text="Sign out")
    assert not await page.locator(".nav-wide").is_visible() and not await sign_out.is_visible()
    await page.tap("[data-nav-menu] summary")
    assert await sign_out.is_visible()
    await phone.check(page, "menu-open")
    await page.tap("[data-nav-menu] summary")
    assert not await sign_out.is_visible()
    # ...and by keyboard: Tab to it, Enter opens it, Tab reaches its links.
    await page.focus("a.brand")
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.closest('[data-nav-menu]') !== null")
    await page.keyboard.press("Enter")
    assert await sign_out.is_visible()
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.textContent.trim()") == "Dashboard"
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/")

    await page.tap("a[data-action=review]")
    await page.wait_for_url(f"{base}/review/")
    assert "Card 1 of 10" in await page.text_content("[data-review-progress]")
    await page.tap(".flashcard-answer summary")
    await phone.check(page, "review")
    await page.tap("button.grade-good")
    await page.wait_for_function("() => document.querySelector('[data-review-progress]').textContent.includes('Card 2 of 10')")

    await page.goto(f"{base}/account/learning/")
    await phone.check(page, "account")
    await page.fill("input[name=daily_goal_words]", "20")
    async with page.expect_navigation():
        await page.tap("form[data-learning-settings] button[type=submit]")
    assert "Your learning settings are saved." in await page.text_content(".messages")
    await page.goto(f"{base}/")
    assert await page.get_attribute("[data-goal]", "data-goal") == "1/20"
    await phone.check(page, "dashboard-practised")

    state = await learner_state(email)
    assert (state["language"], state["level"], state["goal"], state["reviews"]) == ("de", "A2", 20, 1)
    await phone.context.close()
    assert phone.errors == []
