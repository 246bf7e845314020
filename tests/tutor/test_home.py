import datetime as dt

import pytest
from django.utils import timezone

from tutor.models import TestResult, WordProgress

pytestmark = pytest.mark.django_db


def test_visitors_see_the_landing_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Create an account" in response.content.decode()


def test_a_learner_sees_their_words_by_state_and_grades(alice_client, alice, alice_words):
    now = timezone.now()
    gato, perro = alice_words.words.get(term="gato"), alice_words.words.get(term="perro")
    WordProgress.objects.create(learner=alice, word=gato, interval_days=30, last_reviewed_at=now, due_at=now + dt.timedelta(days=30))
    WordProgress.objects.create(learner=alice, word=perro, interval_days=1, last_reviewed_at=now, due_at=now - dt.timedelta(hours=1))
    TestResult.objects.create(learner=alice, word_list=alice_words, score=7, max_score=10)

    response = alice_client.get("/")
    counts = response.context["overview"].counts
    assert counts == {"new": 2, "learning": 1, "due": 1, "mastered": 1}
    body = response.content.decode()
    assert "gato" in body and "7/10" in body


def test_a_learner_never_sees_another_learners_words(bob_client, alice_words):
    body = bob_client.get("/").content.decode()
    assert "gato" not in body
    assert "No word lists yet" in body


def test_the_dashboard_query_count_does_not_grow_with_words(alice_client, alice, alice_words):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get("/").status_code == 200
        return len(captured)

    few = queries()
    for i in range(40):
        word = alice_words.words.create(term=f"palabra{i}", meaning=f"word {i}")
        WordProgress.objects.create(learner=alice, word=word, mastered_at=timezone.now(), interval_days=30)
        TestResult.objects.create(learner=alice, word_list=alice_words, score=i % 10, max_score=10)
    assert queries() == few
    assert few <= 14


def test_an_overdue_word_says_by_how_many_days_and_terms_carry_their_language(alice_client, alice, alice_words):
    now = timezone.now()
    gato = alice_words.words.get(term="gato")
    WordProgress.objects.create(learner=alice, word=gato, interval_days=3, last_reviewed_at=now - dt.timedelta(days=5), due_at=now - dt.timedelta(days=2))
    body = alice_client.get("/").content.decode()
    assert "overdue by 2 days" in body
    assert '<strong lang="es">gato</strong>' in body


def test_there_is_one_grades_card(alice_client, alice, alice_words):
    TestResult.objects.create(learner=alice, word_list=alice_words, score=7, max_score=10)
    body = alice_client.get("/").content.decode()
    assert body.count(">Test grades<") == 1 and "7/10" in body


def test_the_dashboard_shows_the_goal_ring_and_the_heatmap(alice_client, alice, alice_words):
    body = alice_client.get("/").content.decode()
    assert 'data-goal="0/10"' in body and "data-heatmap" in body
    assert body.count('class="heat heat-') >= 11 * 7
