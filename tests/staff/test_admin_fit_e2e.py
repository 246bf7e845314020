"""No admin page of ours scrolls sideways: at 1280 px (a laptop) and 390 px (a phone) the
document is no wider than the window, in real Chromium against daphne."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.models import User
from tests.conftest import PASSWORD
from tests.support.daphne import daphne_running
from tests.support.people import server_hashed_password
from tutor.models import (
    Assignment,
    Classroom,
    ClassroomList,
    ConversationItem,
    OralQuiz,
    Review,
    TestResult,
    TutorSession,
    Word,
    WordList,
    WordProgress,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_server(transactional_db):
    """A daphne of its own, not the session's: a server process caches content type ids, and
    the flush after each transactional test renews them, so pages visited here would break a
    later test's admin save (its history row) on the shared server."""
    with daphne_running(env={"REALTIME_STANDIN": "on", "OPENAI_API_KEY": ""}) as server:
        yield server

WIDTHS = (1280, 390)
ARTIFACTS = Path(os.environ.get("PARLANCE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))
INNER = """() => [...document.querySelectorAll("#changelist .results, .inline-group fieldset, .scroll-x")]
  .filter((el) => el.scrollWidth > el.clientWidth + 1)
  .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} ${el.scrollWidth} > ${el.clientWidth}`)"""
# The innermost element that reaches past the window's right edge, to name in a failure.
WIDEST = """() => {
  const limit = document.documentElement.clientWidth;
  let found = null;
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right > limit + 1 && r.width > 0) found = el;
  }
  if (!found) return "?";
  const r = found.getBoundingClientRect();
  return `${found.tagName.toLowerCase()}${found.id ? "#" + found.id : ""}.${[...found.classList].join(".")}`
    + ` [${found.getAttribute("name") || ""}] right=${Math.round(r.right)}`;
}"""


@sync_to_async
def make_world() -> dict[str, int]:
    server_hashed_password(
        User.objects.create_user(email="head@example.com", is_staff=True, is_superuser=True), PASSWORD
    )
    learner = User.objects.create_user(
        email="a.learner.with.a.rather.long.address@example.com",
        display_name="Maximiliana Fernández-Oyarzábal",
        cefr_level="B1",
    )
    word_list = WordList.objects.create(
        name="Everyday phrases for the first weeks abroad", language="es",
        description="Greetings, directions, shopping and small talk.",
    )
    now = timezone.now()
    for position in range(12):
        word = Word.objects.create(
            word_list=word_list, term=f"expresión larguísima número {position}",
            meaning="a meaning that goes on for a while to test wrapping", position=position,
            example="Una frase de ejemplo bastante larga para ver cómo se ajusta en la tabla.",
        )
        WordProgress.objects.create(
            learner=learner, word=word, interval_days=position * 3, last_reviewed_at=now - dt.timedelta(days=2),
            due_at=now - dt.timedelta(days=position % 3), mastered_at=now if position > 7 else None,
        )
        Review.objects.create(learner=learner, word=word, outcome="correct")
    Assignment.objects.create(learner=learner, word_list=word_list, due_on=dt.date(2026, 12, 20))
    result = TestResult.objects.create(learner=learner, word_list=word_list, score=7, max_score=10)
    session = TutorSession.objects.create(
        learner=learner, model="gpt-realtime", voice="marin", instructions="Focus words: " + "x " * 300,
        status="ended", connected_at=now - dt.timedelta(minutes=5), ended_at=now, end_reason="user",
    )
    item = ConversationItem.objects.create(
        session=session, item_id="item_1", role="user", text="una respuesta " * 40, order=1
    )
    quiz = OralQuiz.objects.create(session=session, words=["a"], result=result)
    classroom = Classroom.objects.create(name="Year 9 Spanish, Tuesday and Thursday afternoons")
    classroom.learners.add(learner)
    ClassroomList.objects.create(classroom=classroom, word_list=word_list, due_on=dt.date(2026, 12, 20))
    return {
        "learner": learner.pk, "list": word_list.pk, "word": word_list.words.first().pk,
        "session": session.pk, "item": item.pk, "quiz": quiz.pk, "result": result.pk,
        "classroom": classroom.pk, "progress": WordProgress.objects.first().pk,
        "assignment": Assignment.objects.first().pk, "review": Review.objects.first().pk,
    }


def owned_pages(ids: dict[str, int]) -> list[str]:
    pages = ["/admin/", "/admin/tutor/", "/admin/accounts/"]
    models = {
        "accounts/user": "learner", "tutor/wordlist": "list", "tutor/word": "word",
        "tutor/assignment": "assignment", "tutor/wordprogress": "progress",
        "tutor/testresult": "result", "tutor/tutorsession": "session",
        "tutor/conversationitem": "item", "tutor/review": "review", "tutor/oralquiz": "quiz",
        "tutor/classroom": "classroom",
    }
    for model, key in models.items():
        pages += [f"/admin/{model}/", f"/admin/{model}/{ids[key]}/change/", f"/admin/{model}/add/"]
    pages += [
        "/admin/tutor/wordlist/import/",
        "/admin/tutor/tutorsession/usage/",
        f"/admin/tutor/tutorsession/{ids['session']}/transcript/",
        f"/admin/tutor/classroom/{ids['classroom']}/overview/",
        f"/admin/tutor/classroom/{ids['classroom']}/invite/",
    ]
    return pages


async def test_no_owned_admin_page_scrolls_sideways(chromium, own_server):
    ids = await make_world()
    base = own_server.base_url
    context = await chromium.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{base}/admin/login/")
    await page.fill("input[name=username]", "head@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("input[type=submit]")
    await page.wait_for_url(f"{base}/admin/")
    overflowing = []
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 800})
        for path in owned_pages(ids):
            response = await page.goto(base + path)
            assert response.status == 200, path
            sizes = await page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            inner = []
            if width >= 1280:
                # At a laptop's width nothing scrolls inside either: no list hides columns.
                inner = await page.evaluate(INNER)
                overflowing += [f"{width}px {path}: {el} scrolls inside" for el in inner]
            if sizes[0] > sizes[1] or inner:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                name = path.strip("/").replace("/", "-") or "index"
                await page.screenshot(path=str(ARTIFACTS / f"fit-{width}-{name}.png"), full_page=True)
            if sizes[0] > sizes[1]:
                culprit = await page.evaluate(WIDEST)
                overflowing.append(f"{width}px {path}: {sizes[0]} > {sizes[1]} ({culprit})")
    await context.close()
    assert overflowing == [], "\n".join(overflowing)
