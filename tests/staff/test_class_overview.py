"""The class overview: each learner's standing, who needs attention and why, in few queries."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import User
from common import clock
from staff.overview import class_overview
from tests.conftest import make_teacher, make_user
from tutor.models import (
    Assignment,
    Classroom,
    ClassroomList,
    TestResult,
    TutorSession,
    Word,
    WordList,
    WordProgress,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)  # a Thursday


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def teacher(db):
    return make_teacher("teacher@example.com")


@pytest.fixture
def classroom(teacher, alice, bob, spanish):
    classroom = Classroom.objects.create(name="Year 9")
    classroom.teachers.add(teacher)
    classroom.learners.add(alice, bob)
    ClassroomList.objects.create(classroom=classroom, word_list=spanish)
    for learner in (alice, bob):
        Assignment.objects.create(learner=learner, word_list=spanish)
    return classroom


def progress(learner, word, **fields) -> WordProgress:
    return WordProgress.objects.create(learner=learner, word=word, **fields)


def grade(learner, percent: int, days_ago: int) -> None:
    TestResult.objects.create(
        learner=learner, score=percent, max_score=100, taken_at=NOW - dt.timedelta(days=days_ago)
    )


def rows_by_email(classroom, **kwargs):
    overview = class_overview(classroom=classroom, now=NOW, **kwargs)
    return overview, {row.learner.email: row for row in overview.rows}


def test_it_counts_mastered_due_and_overdue_words(classroom, alice, spanish):
    gato, perro, casa, agua = spanish.words.all()
    progress(alice, gato, interval_days=30, last_reviewed_at=NOW - dt.timedelta(days=1), due_at=NOW + dt.timedelta(days=29))
    progress(alice, perro, interval_days=1, last_reviewed_at=NOW - dt.timedelta(hours=2), due_at=NOW - dt.timedelta(hours=1))
    progress(alice, casa, interval_days=1, last_reviewed_at=NOW - dt.timedelta(days=5), due_at=NOW - dt.timedelta(days=3))
    progress(alice, agua)  # new: never due
    _, rows = rows_by_email(classroom)
    row = rows["alice@example.com"]
    assert (row.assigned, row.mastered, row.due, row.overdue) == (4, 1, 2, 1)
    assert row.mastered_percent == 25


def test_it_flags_an_inactive_learner(classroom, alice, bob):
    User.objects.filter(pk=alice.pk).update(last_login=NOW - dt.timedelta(days=9))
    User.objects.filter(pk=bob.pk).update(last_login=NOW - dt.timedelta(days=1))
    _, rows = rows_by_email(classroom)
    assert rows["alice@example.com"].reasons == ["inactive for 9 days"]
    assert rows["bob@example.com"].reasons == []


def test_it_flags_overdue_words_above_the_threshold(classroom, alice, spanish, settings):
    settings.CLASS_OVERDUE_THRESHOLD = 2
    User.objects.filter(pk=alice.pk).update(last_login=NOW)
    for word in spanish.words.all()[:3]:
        progress(alice, word, last_reviewed_at=NOW - dt.timedelta(days=9), due_at=NOW - dt.timedelta(days=4))
    _, rows = rows_by_email(classroom)
    assert rows["alice@example.com"].reasons == ["3 words overdue (more than 2)"]
    settings.CLASS_OVERDUE_THRESHOLD = 3
    _, rows = rows_by_email(classroom)
    assert rows["alice@example.com"].reasons == []


def test_it_flags_falling_grades_and_shows_the_trend(classroom, alice, bob):
    User.objects.filter(pk__in=[alice.pk, bob.pk]).update(last_login=NOW)
    grade(alice, 90, days_ago=20)
    grade(alice, 60, days_ago=3)
    grade(bob, 60, days_ago=20)
    grade(bob, 65, days_ago=3)
    _, rows = rows_by_email(classroom)
    assert rows["alice@example.com"].reasons == ["grades falling (90% → 60%)"]
    assert rows["alice@example.com"].trend_label == "▼ 30"
    assert rows["alice@example.com"].average_grade == 75
    assert rows["bob@example.com"].reasons == [] and rows["bob@example.com"].trend_label == "▲ 5"


def test_it_counts_this_weeks_minutes(classroom, alice):
    monday = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    for start, minutes in ((monday, 10), (monday - dt.timedelta(days=2), 30)):
        TutorSession.objects.create(
            learner=alice, model="m", voice="v", instructions="", status="ended",
            minted_at=start, connected_at=start, ended_at=start + dt.timedelta(minutes=minutes),
        )
    _, rows = rows_by_email(classroom)
    assert rows["alice@example.com"].minutes_this_week == 10.0
    assert rows["bob@example.com"].minutes_this_week == 0.0


def test_it_sorts_by_any_column_and_refuses_unknown_ones(classroom, alice, bob):
    grade(alice, 40, days_ago=1)
    grade(bob, 80, days_ago=1)
    overview, _ = rows_by_email(classroom, sort="grade", descending=True)
    assert [row.learner.email for row in overview.rows] == ["bob@example.com", "alice@example.com"]
    overview, _ = rows_by_email(classroom, sort="grade", descending=False)
    assert [row.learner.email for row in overview.rows] == ["alice@example.com", "bob@example.com"]
    assert rows_by_email(classroom, sort="password")[0].sort == "attention"


def test_the_chart_is_the_classs_words_mastered_over_time(classroom, alice, bob, spanish):
    gato, perro = spanish.words.all()[:2]
    progress(alice, gato, mastered_at=NOW - dt.timedelta(days=40))
    progress(bob, gato, mastered_at=NOW - dt.timedelta(days=2))
    progress(bob, perro, mastered_at=NOW - dt.timedelta(days=2))
    chart = class_overview(classroom=classroom, now=NOW).chart
    labels = [point.label for point in chart.points]
    assert labels[0].endswith(": 1") and labels[-1].endswith(": 3")


# --- the page --------------------------------------------------------------------------------


def test_the_page_shows_each_learner_with_the_reason_and_links(client, teacher, classroom, alice):
    client.force_login(teacher)
    response = client.get(f"/admin/tutor/classroom/{classroom.pk}/overview/?o=name&d=0")
    page = response.content.decode()
    assert response.status_code == 200
    assert "2 need attention" in page and "never active" in page
    assert f"/admin/tutor/tutorsession/?learner__id__exact={alice.pk}" in page
    assert f"/admin/accounts/user/{alice.pk}/change/" in page
    assert '<progress max="100"' in page
    assert 'aria-sort="ascending"' in page


def test_another_teacher_gets_not_found(client, classroom):
    client.force_login(make_teacher("other@example.com"))
    assert client.get(f"/admin/tutor/classroom/{classroom.pk}/overview/").status_code == 404


def test_a_learner_cannot_open_it(client, alice, classroom):
    client.force_login(alice)
    assert client.get(f"/admin/tutor/classroom/{classroom.pk}/overview/").status_code == 302


# --- the query count -------------------------------------------------------------------------

LEARNERS = 200
WORDS = 1_000


def big_class(teacher, learners: int, words: int) -> Classroom:
    word_list = WordList.objects.create(name=f"Big list {learners}", language="es")
    Word.objects.bulk_create(
        Word(word_list=word_list, term=f"w{learners}-{i}", meaning="m", position=i) for i in range(words)
    )
    word_ids = list(word_list.words.values_list("pk", flat=True))
    users = User.objects.bulk_create(
        User(email=f"l{learners}-{i}@example.com", display_name=f"L{i}", password="!", last_login=NOW)
        for i in range(learners)
    )
    classroom = Classroom.objects.create(name=f"Big class {learners}")
    classroom.teachers.add(teacher)
    classroom.learners.add(*users)
    ClassroomList.objects.create(classroom=classroom, word_list=word_list)
    Assignment.objects.bulk_create(Assignment(learner=u, word_list=word_list) for u in users)
    reviewed = NOW - dt.timedelta(days=3)
    WordProgress.objects.bulk_create(
        (
            WordProgress(
                learner=u, word_id=w, last_reviewed_at=reviewed, interval_days=(w % 40),
                due_at=NOW - dt.timedelta(days=2) if w % 3 else NOW + dt.timedelta(days=5),
                mastered_at=reviewed if w % 40 >= 21 else None,
            )
            for u in users
            for w in word_ids
        ),
        batch_size=5_000,
    )
    TestResult.objects.bulk_create(
        TestResult(learner=u, score=i % 10, max_score=10, taken_at=NOW - dt.timedelta(days=d))
        for i, u in enumerate(users)
        for d in (2, 20)
    )
    TutorSession.objects.bulk_create(
        TutorSession(learner=u, model="m", voice="v", instructions="", minted_at=NOW - dt.timedelta(hours=1),
                     connected_at=NOW - dt.timedelta(hours=1), ended_at=NOW - dt.timedelta(minutes=50),
                     status="ended")
        for u in users
    )
    return classroom


def test_the_page_costs_the_same_queries_for_two_learners_or_two_hundred(
    client, teacher, django_assert_max_num_queries, django_assert_num_queries
):
    client.force_login(teacher)
    small = big_class(teacher, 2, 3)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small_queries:
        assert client.get(f"/admin/tutor/classroom/{small.pk}/overview/").status_code == 200
    large = big_class(teacher, LEARNERS, WORDS)
    with django_assert_max_num_queries(len(small_queries)):
        response = client.get(f"/admin/tutor/classroom/{large.pk}/overview/")
    assert response.status_code == 200
    assert len(response.context["overview"].rows) == LEARNERS
    assert response.context["overview"].rows[0].assigned == WORDS
    assert len(small_queries) <= 15
