"""A teacher's pickers and forms accept only their own learners and sessions."""

from __future__ import annotations

import pytest

from tests.conftest import make_teacher
from tutor.models import TestResult, TutorSession

pytestmark = pytest.mark.django_db


def test_a_teacher_cannot_record_a_grade_for_another_classes_learner(teacher_client, alice, bob):
    for learner, expected in ((bob, 200), (alice, 302)):
        response = teacher_client.post(
            "/admin/tutor/testresult/add/",
            {"learner": learner.pk, "taken_at_0": "2026-11-30", "taken_at_1": "10:00:00",
             "score": 1, "max_score": 2, "details": "[]", "source": "written"},
        )
        assert response.status_code == expected
    assert list(TestResult.objects.values_list("learner__email", flat=True)) == ["alice@example.com"]


def test_a_teacher_cannot_attach_an_item_to_another_classes_session(teacher_client, bob):
    session = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="")
    response = teacher_client.post(
        "/admin/tutor/conversationitem/add/",
        {"session": session.pk, "item_id": "forged", "role": "user", "kind": "message",
         "text": "x", "raw": "{}", "order": 0, "created_at_0": "2026-11-30",
         "created_at_1": "10:00:00", "size": 0},
    )
    assert response.status_code == 200
    assert "session" in response.context["adminform"].form.errors
    assert not session.items.exists()


def test_a_teacher_without_classes_sees_no_learners(client, alice):
    client.force_login(make_teacher("new.teacher@example.com"))
    assert list(client.get("/admin/accounts/user/").context["cl"].result_list) == []


def test_a_superuser_sees_every_learner(staff_client, alice, bob):
    shown = {u.email for u in staff_client.get("/admin/accounts/user/").context["cl"].result_list}
    assert {"alice@example.com", "bob@example.com"} <= shown
