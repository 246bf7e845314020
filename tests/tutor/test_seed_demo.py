from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from tutor.models import Assignment, TestResult, Word, WordList, WordProgress

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        "users": sorted(User.objects.values_list("email", "is_staff", "password")),
        "lists": sorted(WordList.objects.values_list("name", "language")),
        "words": Word.objects.count(),
        "assignments": sorted(Assignment.objects.values_list("learner__email", "word_list__name")),
        "progress": sorted(
            WordProgress.objects.values_list("learner__email", "word__term", "interval_days", "due_at")
        ),
        "results": sorted(TestResult.objects.values_list("learner__email", "score", "max_score", "taken_at")),
    }


def test_it_creates_staff_and_learners_and_prints_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert User.objects.filter(is_staff=True).count() == 1
    assert User.objects.filter(is_staff=False).count() == 2
    assert "alice@parlance.test" in out.getvalue() and "password" in out.getvalue()
    states = {p.state for p in WordProgress.objects.all()}
    assert {"learning", "mastered"} <= states
    assert TestResult.objects.exists()


def test_running_it_twice_gives_the_same_data():
    call_command("seed_demo", stdout=StringIO())
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first


def test_the_demo_learner_can_log_in(client):
    call_command("seed_demo", stdout=StringIO())
    assert client.login(email="alice@parlance.test", password="parlance-demo")
