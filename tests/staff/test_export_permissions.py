"""The learner admin's exports need the permission to view what they export."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.conftest import make_user
from accounts.models import User
from tutor.models import Classroom, TestResult, WordProgress

pytestmark = pytest.mark.django_db

LEARNERS = "/admin/accounts/user/"


def staff_with(*codenames: str) -> Client:
    """A teacher of a class with every learner in it, with only ``codenames``."""
    member = make_user("viewer@example.com", is_staff=True)
    member.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    classroom = Classroom.objects.create(name="Everyone")
    classroom.teachers.add(member)
    classroom.learners.set(User.objects.filter(is_staff=False))
    client = Client()
    client.force_login(member)
    return client


def run(client: Client, action: str, learner):
    return client.post(LEARNERS, {"action": action, "_selected_action": [learner.pk]})


@pytest.fixture
def records(alice, alice_words):
    TestResult.objects.create(learner=alice, word_list=alice_words, score=7, max_score=10)
    WordProgress.objects.create(learner=alice, word=alice_words.words.first())


@pytest.mark.parametrize("action", ["export_grades", "export_progress"])
def test_view_user_alone_cannot_export(alice, records, action):
    client = staff_with("view_user")
    page = client.get(LEARNERS).content.decode()
    assert f'value="{action}"' not in page  # not offered

    response = run(client, action, alice)

    assert not response.get("Content-Type", "").startswith("text/csv")
    assert "alice@example.com,".encode() not in b"".join(getattr(response, "streaming_content", [response.content]))


@pytest.mark.parametrize(
    ("action", "needed"),
    [("export_grades", "view_testresult"), ("export_progress", "view_wordprogress")],
)
def test_the_data_permission_allows_its_export(alice, records, action, needed):
    client = staff_with("view_user", needed)
    assert f'value="{action}"' in client.get(LEARNERS).content.decode()

    response = run(client, action, alice)

    assert response["Content-Type"].startswith("text/csv")
    assert b"alice@example.com" in b"".join(response.streaming_content)


def test_grades_permission_does_not_export_progress(alice, records):
    client = staff_with("view_user", "view_testresult")
    assert not run(client, "export_progress", alice).get("Content-Type", "").startswith("text/csv")
