"""A teacher runs a class in real Chromium against daphne: invite the class from a CSV file,
assign a list with a due date in one action, open the class overview and see who needs
attention and why; a second teacher can neither see that class nor export its data.

Screenshots of the overview and a learner's page at 1280 and 390 px go to ``artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.models import User
from tests.conftest import PASSWORD, make_teacher
from tests.support.daphne import daphne_running
from tests.support.people import server_hashed_password
from tutor.models import Assignment, Classroom, TestResult, Word, WordList

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_server(transactional_db):
    """A daphne of its own, not the session's: a server process caches content type ids, and
    the flush after each transactional test renews them, so pages visited here would break a
    later test's admin save (its history row) on the shared server."""
    with daphne_running(env={"REALTIME_STANDIN": "on", "OPENAI_API_KEY": ""}) as server:
        yield server

ARTIFACTS = Path(os.environ.get("PARLANCE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CSV = (
    "Email,Display name,Native language,Level\n"
    "ana@example.com,Ana,Portuguese,A2\n"
    "ben@example.com,Ben,de,B1\n"
    "chloe@example.com,Chloé,French,A2\n"
).encode()


@sync_to_async
def make_school() -> dict:
    first = server_hashed_password(make_teacher("tess@example.com", display_name="Tess"), PASSWORD)
    second = server_hashed_password(make_teacher("theo@example.com", display_name="Theo"), PASSWORD)
    mine = Classroom.objects.create(name="Year 9 Spanish")
    mine.teachers.add(first)
    theirs = Classroom.objects.create(name="Year 10 French")
    theirs.teachers.add(second)
    animals = WordList.objects.create(name="Animals", language="es")
    for position, (term, meaning) in enumerate([("gato", "cat"), ("perro", "dog"), ("pájaro", "bird")]):
        Word.objects.create(word_list=animals, term=term, meaning=meaning, position=position)
    return {"mine": mine, "animals": animals}


@sync_to_async
def active_with_falling_grades(email: str) -> User:
    """Ben signed in today, but his grades dropped from 90% to 50% in a fortnight."""
    ben = User.objects.get(email=email)
    now = timezone.now()
    User.objects.filter(pk=ben.pk).update(last_login=now)
    TestResult.objects.create(learner=ben, score=9, max_score=10, taken_at=now - dt.timedelta(days=20))
    TestResult.objects.create(learner=ben, score=5, max_score=10, taken_at=now - dt.timedelta(days=2))
    return ben


@sync_to_async
def due_dates(word_list: WordList) -> dict[str, dt.date | None]:
    return dict(Assignment.objects.filter(word_list=word_list).values_list("learner__email", "due_on"))


@sync_to_async
def class_learner_ids(classroom: Classroom) -> list[int]:
    return list(classroom.learners.values_list("pk", flat=True))


async def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"teacher-{name}.png"), full_page=True)


async def sign_in(chromium, base: str, email: str):
    context = await chromium.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.goto(f"{base}/admin/login/")
    await page.fill("input[name=username]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("input[type=submit]")
    await page.wait_for_url(f"{base}/admin/")
    return context, page


async def test_a_teacher_invites_assigns_and_sees_who_needs_attention(chromium, own_server):
    school = await make_school()
    mine, animals = school["mine"], school["animals"]
    base = own_server.base_url
    context, page = await sign_in(chromium, base, "tess@example.com")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    # Invite the class from a CSV file.
    await page.goto(f"{base}/admin/tutor/classroom/")
    await page.click("text=Invite from CSV")
    await page.wait_for_url(f"{base}/admin/tutor/classroom/{mine.pk}/invite/")
    await page.set_input_files(
        "input[name=file]", files=[{"name": "year9.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    await page.click("input[type=submit][value=Invite]")
    await page.wait_for_url(f"{base}/admin/tutor/classroom/{mine.pk}/overview/")
    assert "Invited 3 learners to Year 9 Spanish." in await page.text_content("ul.messagelist")

    # Assign a list to the class with a due date, in one action from the word lists.
    await page.goto(f"{base}/admin/tutor/wordlist/")
    await page.check(f"input[name=_selected_action][value='{animals.pk}']")
    await page.select_option("select[name=action]", "assign_to_class")
    await page.click("button[name=index]")
    await page.select_option("select[name=classroom]", str(mine.pk))
    await page.fill("input[name=due_on]", "2026-12-20")
    await page.click("input[name=apply]")
    await page.wait_for_url(f"{base}/admin/tutor/wordlist/")
    assert "Assigned Animals to Year 9 Spanish, due 2026-12-20." in await page.text_content("ul.messagelist")
    assert await due_dates(animals) == dict.fromkeys(
        ["ana@example.com", "ben@example.com", "chloe@example.com"], dt.date(2026, 12, 20)
    )

    # The overview says who needs attention, and why.
    ben = await active_with_falling_grades("ben@example.com")
    await page.goto(f"{base}/admin/tutor/classroom/{mine.pk}/overview/")
    ben_row = page.locator("#class-overview tbody tr", has_text="ben@example.com")
    assert "grades falling (90% → 50%)" in await ben_row.locator(".col-attention").text_content()
    ana_row = page.locator("#class-overview tbody tr", has_text="ana@example.com")
    assert "never active" in await ana_row.locator(".col-attention").text_content()
    assert await page.locator("#class-overview progress").count() == 3
    await page.click("#class-overview th.col-grade a")  # sortable
    await page.wait_for_url(lambda url: "o=grade" in url)
    await screenshot(page, "class-overview")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "class-overview-phone")
    await page.set_viewport_size(DESKTOP)

    # The learner's page: progress first, with the reason.
    await page.click(f"#class-overview a[href='/admin/accounts/user/{ben.pk}/change/']")
    await page.wait_for_url(f"{base}/admin/accounts/user/{ben.pk}/change/")
    assert "grades falling" in await page.text_content(".field-needs_attention")
    assert await page.locator("input[name=user_permissions], .field-password").count() == 0
    await screenshot(page, "learner-page")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "learner-page-phone")
    await context.close()
    assert errors == []

    # A second teacher: the class is not theirs to see, nor its data to export.
    context, page = await sign_in(chromium, base, "theo@example.com")
    await page.goto(f"{base}/admin/tutor/classroom/")
    assert "Year 9 Spanish" not in await page.text_content("#content")
    assert "Year 10 French" in await page.text_content("#content")
    response = await page.goto(f"{base}/admin/tutor/classroom/{mine.pk}/overview/")
    assert response.status == 404
    await page.goto(f"{base}/admin/accounts/user/")
    assert "ben@example.com" not in await page.text_content("#content")
    token = await page.get_attribute("input[name=csrfmiddlewaretoken]", "value")
    for action in ("export_grades", "export_progress"):  # a forged export of the class's learners
        for learner_id in await class_learner_ids(mine):
            export = await page.request.post(
                f"{base}/admin/accounts/user/",
                form={"csrfmiddlewaretoken": token, "action": action, "_selected_action": str(learner_id)},
                headers={"Referer": f"{base}/admin/accounts/user/"},
            )
            assert export.ok
            body = await export.body()  # at most the header row: none of the class's rows
            assert all(email not in body for email in (b"ana@", b"ben@", b"chloe@"))
    await context.close()
