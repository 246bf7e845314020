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
