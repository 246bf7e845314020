"""A learner's admin page: progress first, a needs-attention summary, internals for superusers."""

from __future__ import annotations

import datetime as dt

import pytest

from tutor.models import Classroom, TestResult, TutorSession, WordProgress

pytestmark = pytest.mark.django_db


def page_of(client, learner) -> str:
    response = client.get(f"/admin/accounts/user/{learner.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_progress_comes_before_the_profile(staff_client, alice, alice_words):
    page = page_of(staff_client, alice)
    assert page.index(">Progress</h2>") < page.index(">Learner profile</h2>")
    assert "4 in assigned lists" in page


def test_it_lists_grades_and_sessions_with_what_they_practised(staff_client, alice, alice_words):
    TestResult.objects.create(learner=alice, word_list=alice_words, score=7, max_score=10)
    session = TutorSession.objects.create(
        learner=alice, model="m", voice="v", instructions="", focus_words=["gato"], status="ended"
    )
    session.items.create(item_id="i1", role="user", text="el gato", order=1)
    page = page_of(staff_client, alice)
    assert "70% (7/10)" in page
    assert f"/admin/tutor/tutorsession/{session.pk}/transcript/" in page
    assert "1 words practised" in page


def test_it_says_why_the_learner_needs_attention(staff_client, alice, alice_words):
    page = page_of(staff_client, alice)
    assert "⚑ never active" in page


def test_a_superuser_sees_the_account_internals(staff_client, alice):
    page = page_of(staff_client, alice)
    assert "Account internals" in page and 'name="user_permissions"' in page
    assert "md5$" in page or "Password" in page


def test_a_teacher_sees_no_password_hash_or_permissions(teacher_client, alice):
    page = page_of(teacher_client, alice)
    assert "Account internals" not in page
    assert 'name="user_permissions"' not in page and 'name="is_superuser"' not in page
    assert "md5$" not in page and "algorithm" not in page


def test_a_teacher_cannot_make_a_learner_staff_by_posting_the_field(teacher_client, alice):
    response = teacher_client.post(
        f"/admin/accounts/user/{alice.pk}/change/",
        {
            "email": alice.email, "display_name": "Alice", "native_language": "en",
            "target_language": "es", "cefr_level": "A2", "daily_voice_minutes": 20,
            "is_active": "on", "is_staff": "on", "is_superuser": "on",
            "assignments-TOTAL_FORMS": "0", "assignments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    alice.refresh_from_db()
    assert not alice.is_staff and not alice.is_superuser


ADD = {
    "email": "dora@example.com", "display_name": "Dora", "native_language": "en",
    "target_language": "es", "cefr_level": "B1", "daily_voice_minutes": "15",
    "send_invitation": "on", "password1": "", "password2": "",
}


def test_a_teachers_new_learner_joins_one_of_their_classes(teacher_client, spanish):
    from tutor.classrooms import classroom_list_assign

    classroom = Classroom.objects.get(name="Class A")
    classroom_list_assign(classroom=classroom, word_list=spanish, due_on=None)
    refused = teacher_client.post("/admin/accounts/user/add/", ADD)
    assert refused.status_code == 200 and "classroom" in refused.context["adminform"].form.errors
    foreign = Classroom.objects.create(name="Not theirs")
    assert teacher_client.post("/admin/accounts/user/add/", {**ADD, "classroom": foreign.pk}).status_code == 200
    response = teacher_client.post("/admin/accounts/user/add/", {**ADD, "classroom": classroom.pk})
    assert response.status_code == 302
    assert classroom.learners.filter(email="dora@example.com").exists()
    assert spanish.assignments.filter(learner__email="dora@example.com").exists()
    assert not foreign.learners.exists()
