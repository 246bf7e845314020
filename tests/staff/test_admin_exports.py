"""Grades and progress exported as CSV from the learner, test result and progress admin pages."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import make_user
from staff.exports import GRADE_COLUMNS, PROGRESS_COLUMNS
from tutor.models import Assignment, TestResult, WordList, WordProgress

pytestmark = pytest.mark.django_db

LEARNERS = "/admin/accounts/user/"
RESULTS = "/admin/tutor/testresult/"
PROGRESS = "/admin/tutor/wordprogress/"

TAKEN = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def export(
    client, url: str, action: str, selected
) -> tuple[object, list[dict[str, str]], list[str]]:
    response = client.post(
        url, {"action": action, "_selected_action": [obj.pk for obj in selected]}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="parlance-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    return response, list(reader), reader.fieldnames


@pytest.fixture
def grades(alice, bob, alice_words):
    return [
        TestResult.objects.create(
            learner=alice, word_list=alice_words, score=7, max_score=10, taken_at=TAKEN
        ),
        TestResult.objects.create(
            learner=alice,
            score=3,
            max_score=4,
            source="voice",
            taken_at=TAKEN + dt.timedelta(days=1),
        ),
        TestResult.objects.create(
            learner=bob, word_list=alice_words, score=1, max_score=10, taken_at=TAKEN
        ),
    ]


@pytest.fixture
def progress(alice, bob, alice_words):
    now = timezone.now()
    gato, perro, *_ = alice_words.words.order_by("position")
    return [
        WordProgress.objects.create(
            learner=alice,
            word=gato,
            repetitions=4,
            interval_days=30,
            due_at=now + dt.timedelta(days=10),
            last_result="correct",
            correct_count=4,
            last_reviewed_at=now - dt.timedelta(days=20),
        ),
        WordProgress.objects.create(
            learner=alice,
            word=perro,
            interval_days=1,
            due_at=now - dt.timedelta(hours=1),
            last_result="incorrect",
            incorrect_count=2,
            last_reviewed_at=now - dt.timedelta(days=1),
        ),
        WordProgress.objects.create(learner=bob, word=gato),
    ]


def test_it_exports_the_grades_of_selected_learners(staff_client, alice, grades):
    _, rows, header = export(staff_client, LEARNERS, "export_grades", [alice])

    assert header == GRADE_COLUMNS
    assert rows == [
        {
            "learner_email": "alice@example.com",
            "learner_name": "Alice",
            "cefr_level": "A2",
            "word_list": "Spanish basics",
            "source": "written",
            "taken_at": "2026-03-01T09:30:00+00:00",
            "score": "7",
            "max_score": "10",
            "percent": "70",
        },
        {
            "learner_email": "alice@example.com",
            "learner_name": "Alice",
            "cefr_level": "A2",
            "word_list": "",
            "source": "voice",
            "taken_at": "2026-03-02T09:30:00+00:00",
            "score": "3",
            "max_score": "4",
            "percent": "75",
        },
    ]


def test_it_exports_the_progress_of_selected_learners(staff_client, alice, progress):
    _, rows, header = export(staff_client, LEARNERS, "export_progress", [alice])

    assert header == PROGRESS_COLUMNS
    assert [(r["learner_email"], r["word_list"], r["term"], r["meaning"]) for r in rows] == [
        ("alice@example.com", "Spanish basics", "gato", "cat"),
        ("alice@example.com", "Spanish basics", "perro", "dog"),
    ]
    assert [(r["state"], r["due"], r["interval_days"], r["last_result"]) for r in rows] == [
        ("mastered", "no", "30", "correct"),
        ("learning", "yes", "1", "incorrect"),
    ]
    assert rows[1]["incorrect_count"] == "2"
    assert rows[0]["mastered_at"] == ""


def test_it_exports_selected_test_results(staff_client, grades):
    _, rows, _ = export(staff_client, RESULTS, "export_grades", grades[1:])

    assert sorted((r["learner_email"], r["score"]) for r in rows) == [
        ("alice@example.com", "3"),
        ("bob@example.com", "1"),
    ]


def test_it_exports_selected_progress_rows(staff_client, progress):
    _, rows, _ = export(staff_client, PROGRESS, "export_progress", [progress[2]])

    assert [(r["learner_email"], r["term"], r["state"], r["due"]) for r in rows] == [
        ("bob@example.com", "gato", "new", "no")
    ]


def test_it_neutralises_spreadsheet_formulas(staff_client, alice, alice_words):
    alice.display_name = '=HYPERLINK("http://evil")'
    alice.save(update_fields=["display_name"])
    TestResult.objects.create(learner=alice, word_list=alice_words, score=1, max_score=2)

    _, [row], _ = export(staff_client, LEARNERS, "export_grades", [alice])

    assert row["learner_name"] == '\'=HYPERLINK("http://evil")'


@pytest.mark.parametrize(
    "url, action", [(LEARNERS, "export_grades"), (LEARNERS, "export_progress")]
)
def test_exports_take_the_same_number_of_queries_for_many_learners(
    staff_client, spanish, url, action
):
    def add_learners(start: int, count: int) -> list:
        learners = []
        for n in range(start, start + count):
            learner = make_user(f"learner{n:02}@example.com", display_name=f"L{n}")
            Assignment.objects.create(learner=learner, word_list=spanish)
            for word in spanish.words.all():
                WordProgress.objects.create(learner=learner, word=word)
            TestResult.objects.create(learner=learner, word_list=spanish, score=1, max_score=2)
            TestResult.objects.create(learner=learner, score=2, max_score=2)
            learners.append(learner)
        return learners

    def queries_for(learners) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            _, rows, _ = export(staff_client, url, action, learners)
        return len(queries.captured_queries), len(rows)

    few_queries, few_rows = queries_for(add_learners(0, 2))
    many_queries, many_rows = queries_for(add_learners(2, 30))

    assert many_rows == few_rows * 15
    assert many_queries == few_queries


@pytest.mark.parametrize(
    "url, action",
    [
        (LEARNERS, "export_grades"),
        (LEARNERS, "export_progress"),
        (RESULTS, "export_grades"),
        (PROGRESS, "export_progress"),
    ],
)
@pytest.mark.parametrize("who", ["alice", "anonymous"])
def test_learners_and_visitors_cannot_export(
    who, alice_client, client, alice, grades, progress, url, action
):
    visitor = alice_client if who == "alice" else client
    selected = (
        [alice]
        if url == LEARNERS
        else TestResult.objects.all()
        if url == RESULTS
        else WordProgress.objects.all()
    )

    response = visitor.post(
        url, {"action": action, "_selected_action": [obj.pk for obj in selected]}
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_results_and_progress_pages_filter_by_level_and_list(
    staff_client, alice, bob, grades, progress
):
    other = WordList.objects.create(name="Other", language="fr")

    by_level = (
        staff_client.get(RESULTS, {"learner__cefr_level__exact": "A2"}).context["cl"].result_list
    )
    by_list = (
        staff_client.get(RESULTS, {"word_list__id__exact": other.pk}).context["cl"].result_list
    )
    by_source = staff_client.get(RESULTS, {"source__exact": "voice"}).context["cl"].result_list
    searched = staff_client.get(RESULTS, {"q": "Bob"}).context["cl"].result_list
    due = staff_client.get(PROGRESS, {"state": "due"}).context["cl"].result_list
    new = (
        staff_client.get(PROGRESS, {"state": "new", "learner__cefr_level__exact": "A1"})
        .context["cl"]
        .result_list
    )

    assert {r.learner.email for r in by_level} == {"alice@example.com"}
    assert list(by_list) == []
    assert [r.score for r in by_source] == [3]
    assert {r.learner.email for r in searched} == {"bob@example.com"}
    assert [(p.learner.email, p.word.term) for p in due] == [("alice@example.com", "perro")]
    assert [(p.learner.email, p.word.term) for p in new] == [("bob@example.com", "gato")]
