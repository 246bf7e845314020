"""The staff path in real Chromium against daphne: sign in to the admin, import a word list from
a CSV file, assign it to a learner, read the learner's progress in the learner list and open a
voice session's transcript.

Screenshots of each page go to ``artifacts/`` (not committed) for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.models import User
from tests.conftest import PASSWORD
from tests.support.people import server_hashed_password
from tutor.models import Assignment, TestResult, TutorSession, Word, WordList, WordProgress

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(os.environ.get("PARLANCE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))
DESKTOP = {"width": 1280, "height": 800}
CSV = (
    "term,meaning,example,part_of_speech\n"
    "rojo,red,El coche es rojo.,adjective\n"
    "azul,blue,El cielo es azul.,adjective\n"
    "verde,green,,adjective\n"
    "amarillo,yellow,El sol es amarillo.,adjective\n"
).encode()


def with_server_password(user: User) -> User:
    return server_hashed_password(user, PASSWORD)


@sync_to_async
def make_people() -> tuple[User, TutorSession]:
    with_server_password(User.objects.create_user(email="teacher@example.com", is_staff=True, is_superuser=True))
    learner = User.objects.create_user(email="lena@example.com", display_name="Lena", cefr_level="A2")
    animals = WordList.objects.create(name="Animals", language="es")
    now = timezone.now()
    for position, (term, meaning, interval, due) in enumerate(
        [("gato", "cat", 30, 20), ("perro", "dog", 1, -1), ("pájaro", "bird", 6, 3)]
    ):
        word = Word.objects.create(word_list=animals, term=term, meaning=meaning, position=position)
        WordProgress.objects.create(
            learner=learner,
            word=word,
            interval_days=interval,
            repetitions=2,
            last_reviewed_at=now - dt.timedelta(days=2),
            due_at=now + dt.timedelta(days=due),
        )
    Assignment.objects.create(learner=learner, word_list=animals)
    TestResult.objects.create(learner=learner, word_list=animals, score=8, max_score=10)
    TestResult.objects.create(learner=learner, word_list=animals, score=6, max_score=10)
    session = TutorSession.objects.create(
        learner=learner,
        model="gpt-realtime",
        voice="marin",
        instructions="Focus words: gato, perro",
        status=TutorSession.Status.ENDED,
        focus_words=["gato", "perro"],
        connected_at=now - dt.timedelta(minutes=5),
        ended_at=now,
        end_reason="user",
    )
    for order, (role, kind, text, flagged) in enumerate(
        [
            ("assistant", "message", "¡Hola Lena! ¿Tienes un gato?", False),
            ("user", "message", "Sí, tengo un gato negro.", False),
            ("assistant", "function_call", 'record_word_practice({"word":"gato","outcome":"correct"})', False),
            ("tool", "function_call_output", '{"recorded": true, "word": "gato", "next_review_in_days": 6}', False),
            ("assistant", "message", "[stopped by the guardrail]", True),
        ]
    ):
        session.items.create(
            item_id=f"item_{order}", role=role, kind=kind, text=text, order=order, flagged=flagged,
            flag_reason="blocked term" if flagged else "",
        )
    return learner, session


async def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"staff-{name}.png"), full_page=True)


@sync_to_async
def assigned_lists(learner: User) -> list[str]:
    return sorted(Assignment.objects.filter(learner=learner).values_list("word_list__name", flat=True))


@sync_to_async
def imported_terms() -> list[str]:
    return sorted(Word.objects.filter(word_list__name="Colours").values_list("term", flat=True))


async def test_staff_import_a_list_assign_it_and_read_progress_and_a_transcript(chromium, daphne_server):
    learner, session = await make_people()
    base = daphne_server.base_url
    context = await chromium.new_context(viewport=DESKTOP)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)

    # Sign in to the admin.
    await page.goto(f"{base}/admin/")
    await page.fill("input[name=username]", "teacher@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("input[type=submit]")
    await page.wait_for_url(f"{base}/admin/")
    await screenshot(page, "admin-index")

    # Import a word list from a CSV file.
    await page.goto(f"{base}/admin/tutor/wordlist/")
    await page.click("text=Import words from CSV")
    await page.wait_for_url(f"{base}/admin/tutor/wordlist/import/")
    await page.fill("input[name=name]", "Colours")
    await page.select_option("select[name=language]", "es")
    await page.set_input_files(
        "input[name=file]", files=[{"name": "colours.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    await screenshot(page, "import-form")
    await page.click("input[type=submit][value=Import]")
    await page.wait_for_url(f"{base}/admin/tutor/wordlist/*/change/")
    assert "Created “Colours”: 4 added" in await page.text_content("ul.messagelist")
    assert await imported_terms() == ["amarillo", "azul", "rojo", "verde"]
    await screenshot(page, "imported-list")

    # Assign it to the learner on the learner's page (the autocomplete inline).
    await page.goto(f"{base}/admin/accounts/user/{learner.pk}/change/")
    row = page.locator("#assignments-group tr.form-row:not(.has_original)").first
    await row.locator(".select2-selection").click()
    await page.fill(".select2-container--open .select2-search__field", "Colo")
    await page.click(".select2-results__option:has-text('Colours')")
    await screenshot(page, "learner-assign")
    await page.click("input[name=_save]")
    await page.wait_for_url(f"{base}/admin/accounts/user/")
    assert await assigned_lists(learner) == ["Animals", "Colours"]

    # The learner's progress in the learner list.
    await page.goto(f"{base}/admin/accounts/user/?q=lena")
    row = page.locator("#result_list tbody tr", has_text="lena@example.com")
    assert (await row.locator(".field-assigned_lists").text_content()).strip() == "Animals, Colours"
    assert await row.locator(".field-words_mastered").text_content() == "1"
    assert await row.locator(".field-words_due").text_content() == "1"
    assert await row.locator(".field-average_grade").text_content() == "70%"
    assert "never" not in await row.locator(".field-last_active").text_content()
    # Wide enough to show every progress column beside the admin's two sidebars.
    await page.set_viewport_size({"width": 1680, "height": 800})
    await screenshot(page, "learner-list")
    await page.set_viewport_size(DESKTOP)

    # A voice session's transcript, flagged reply highlighted.
    await page.goto(f"{base}/admin/tutor/tutorsession/?learner__id__exact={learner.pk}")
    await page.click(f"#result_list a[href*='/tutorsession/{session.pk}/change/']")
    await page.wait_for_url(lambda url: f"/admin/tutor/tutorsession/{session.pk}/change/" in url)
    await page.click("text=Read the transcript")
    await page.wait_for_url(lambda url: f"/admin/tutor/tutorsession/{session.pk}/transcript/" in url)
    transcript = await page.text_content("ol.transcript")
    assert "Sí, tengo un gato negro." in transcript and "¡Hola Lena!" in transcript
    assert await page.locator("ol.transcript mark.flagged-item").count() == 1
    assert await page.locator("ol.transcript li.tool details:not([open])").count() == 2  # collapsed
    await page.click("ol.transcript li.tool >> nth=0 >> summary")
    await screenshot(page, "session-transcript")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "session-transcript-phone")
    await page.set_viewport_size(DESKTOP)

    await context.close()
    assert errors == []
