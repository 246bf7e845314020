"""Classes in the admin: joining gives a class's lists, the bulk actions, the CSV invitation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from tests.conftest import make_teacher, make_user
from tutor.classrooms import classroom_learners_add, classroom_list_assign
from tutor.models import Assignment, Classroom, ClassroomList, WordList

pytestmark = pytest.mark.django_db

LEARNERS = "/admin/accounts/user/"
LISTS = "/admin/tutor/wordlist/"
DUE = dt.date(2026, 12, 20)


@pytest.fixture
def teacher(db):
    return make_teacher("teacher@example.com", display_name="Tess")


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


@pytest.fixture
def classroom(teacher, alice):
    classroom = Classroom.objects.create(name="Year 9 Spanish")
    classroom.teachers.add(teacher)
    classroom.learners.add(alice)
    return classroom


def csv_file(text: str, name: str = "class.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


# --- the service ---------------------------------------------------------------------------


def test_it_gives_a_joining_learner_the_class_lists_with_their_due_date(classroom, bob, spanish):
    classroom_list_assign(classroom=classroom, word_list=spanish, due_on=DUE)
    classroom_learners_add(classroom=classroom, learners=[bob])
    assert Assignment.objects.get(learner=bob, word_list=spanish).due_on == DUE


def test_a_list_given_to_a_class_reaches_every_learner_once(classroom, alice, bob, spanish):
    classroom.learners.add(bob)
    Assignment.objects.create(learner=alice, word_list=spanish)  # already had it, no date
    classroom_list_assign(classroom=classroom, word_list=spanish, due_on=DUE)
    classroom_list_assign(classroom=classroom, word_list=spanish, due_on=DUE)
    assert sorted(Assignment.objects.filter(word_list=spanish).values_list("learner__email", "due_on")) == [
        ("alice@example.com", DUE),
        ("bob@example.com", DUE),
    ]
    assert ClassroomList.objects.filter(classroom=classroom).count() == 1


def test_a_learner_keeps_the_soonest_date_of_their_classes(classroom, alice, spanish):
    other = Classroom.objects.create(name="Club")
    other.learners.add(alice)
    classroom_list_assign(classroom=classroom, word_list=spanish, due_on=DUE)
    classroom_list_assign(classroom=other, word_list=spanish, due_on=DUE + dt.timedelta(days=5))
    assert Assignment.objects.get(learner=alice, word_list=spanish).due_on == DUE


# --- the class pages ----------------------------------------------------------------------


def test_a_teacher_who_adds_a_class_teaches_it(teacher_client, teacher, alice, classroom, spanish):
    response = teacher_client.post(
        "/admin/tutor/classroom/add/",
        {
            "name": "Evening class",
            "learners": [alice.pk],
            "lists-TOTAL_FORMS": "1",
            "lists-INITIAL_FORMS": "0",
            "lists-0-word_list": spanish.pk,
            "lists-0-due_on": "2026-12-20",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Classroom.objects.get(name="Evening class")
    assert list(new.teachers.all()) == [teacher]
    assert Assignment.objects.get(learner=alice, word_list=spanish).due_on == DUE


def test_a_teacher_cannot_put_someone_elses_learner_in_their_class(teacher_client, classroom, bob):
    response = teacher_client.post(
        f"/admin/tutor/classroom/{classroom.pk}/change/",
        {"name": classroom.name, "learners": [bob.pk], "lists-TOTAL_FORMS": "0", "lists-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "learners" in response.context["adminform"].form.errors
    assert not classroom.learners.filter(pk=bob.pk).exists()


def test_the_class_list_shows_only_the_teachers_classes(teacher_client, classroom):
    Classroom.objects.create(name="Someone else's class")
    response = teacher_client.get("/admin/tutor/classroom/")
    assert [c.name for c in response.context["cl"].result_list] == ["Year 9 Spanish"]


# --- bulk actions -------------------------------------------------------------------------


def test_the_add_to_class_action_asks_for_the_class_then_adds(staff_client, classroom, bob, spanish):
    classroom_list_assign(classroom=classroom, word_list=spanish, due_on=DUE)
    asked = staff_client.post(LEARNERS, {"action": "add_to_class", "_selected_action": [bob.pk]})
    assert asked.status_code == 200
    assert b"Add to the class" in asked.content and b"bob@example.com" in asked.content
    done = staff_client.post(
        LEARNERS,
        {"action": "add_to_class", "_selected_action": [bob.pk], "apply": "1", "classroom": classroom.pk},
        follow=True,
    )
    assert "Added 1 learner to Year 9 Spanish." in done.content.decode()
    assert classroom.learners.filter(pk=bob.pk).exists()
    assert Assignment.objects.get(learner=bob, word_list=spanish).due_on == DUE


def test_the_add_to_class_action_refuses_a_class_the_teacher_does_not_teach(teacher_client, alice):
    foreign = Classroom.objects.create(name="Not yours")
    response = teacher_client.post(
        LEARNERS,
        {"action": "add_to_class", "_selected_action": [alice.pk], "apply": "1", "classroom": foreign.pk},
    )
    assert response.status_code == 200
    assert "classroom" in response.context["form"].errors
    assert not foreign.learners.exists()


def test_the_assign_action_gives_a_list_to_the_class_with_a_due_date(teacher_client, classroom, alice, spanish):
    response = teacher_client.post(
        LISTS,
        {
            "action": "assign_to_class",
            "_selected_action": [spanish.pk],
            "apply": "1",
            "classroom": classroom.pk,
            "due_on": "2026-12-20",
        },
        follow=True,
    )
    assert "Assigned Spanish basics to Year 9 Spanish, due 2026-12-20." in response.content.decode()
    assert ClassroomList.objects.get(classroom=classroom, word_list=spanish).due_on == DUE
    assert Assignment.objects.get(learner=alice, word_list=spanish).due_on == DUE


def test_the_assign_action_reports_a_bad_date(teacher_client, classroom, spanish):
    response = teacher_client.post(
        LISTS,
        {
            "action": "assign_to_class",
            "_selected_action": [spanish.pk],
            "apply": "1",
            "classroom": classroom.pk,
            "due_on": "next week",
        },
    )
    assert "due_on" in response.context["form"].errors
    assert not ClassroomList.objects.exists()


# --- inviting a class from CSV ------------------------------------------------------------


def invite_url(classroom) -> str:
    return f"/admin/tutor/classroom/{classroom.pk}/invite/"


def test_a_class_is_invited_from_csv(teacher_client, classroom, spanish, django_capture_on_commit_callbacks):
    classroom_list_assign(classroom=classroom, word_list=spanish, due_on=DUE)
    text = "Email;Display_Name;native language;LEVEL\nana@example.com;Ana;Portuguese;b1\nben@example.com;Ben;de;A2\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = teacher_client.post(invite_url(classroom), {"file": csv_file(text)})
    assert response.status_code == 302
    ana = User.objects.get(email="ana@example.com")
    assert (ana.display_name, ana.native_language, ana.cefr_level) == ("Ana", "pt", "B1")
    assert not ana.has_usable_password()
    assert set(classroom.learners.values_list("email", flat=True)) == {
        "alice@example.com", "ana@example.com", "ben@example.com"
    }
    assert Assignment.objects.get(learner=ana, word_list=spanish).due_on == DUE
    assert sorted(message.to[0] for message in mail.outbox) == ["ana@example.com", "ben@example.com"]


def test_a_bad_row_invites_nobody_and_every_row_is_reported(teacher_client, classroom, alice):
    text = (
        "email,display name,native language,level\n"
        "ana@example.com,Ana,es,A2\n"
        "not-an-email,Bad,es,A2\n"
        "alice@example.com,Alice,es,A2\n"
        "ana@example.com,Ana again,xx,Z9\n"
    )
    response = teacher_client.post(invite_url(classroom), {"file": csv_file(text)})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nobody was invited" in page
    rows = {row.line: row.errors for row in response.context["report"].rows}
    assert rows[2] == []
    assert "is not an email address" in rows[3][0]
    assert "already has an account" in rows[4][0]
    assert set(map(lambda e: e.split(" ")[0], rows[5])) == {"the", "unknown"}
    assert len(rows[5]) == 3
    assert not User.objects.filter(email="ana@example.com").exists()
    assert mail.outbox == []


def test_a_file_without_an_email_column_is_refused(teacher_client, classroom):
    response = teacher_client.post(invite_url(classroom), {"file": csv_file("name,level\nAna,A1\n")})
    assert "needs an “email” column" in response.content.decode()


def test_the_invite_template_downloads(teacher_client):
    response = teacher_client.get("/admin/tutor/classroom/invite-template.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().startswith("email,display name,native language,level")


def test_a_teacher_cannot_invite_into_another_teachers_class(teacher_client):
    foreign = Classroom.objects.create(name="Not yours")
    response = teacher_client.post(
        invite_url(foreign), {"file": csv_file("email\nmallory@example.com\n")}
    )
    assert response.status_code == 404
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_staff_without_the_add_user_permission_cannot_invite(client, classroom):
    from django.contrib.auth.models import Permission

    limited = make_user("limited@example.com", is_staff=True)
    limited.user_permissions.set(Permission.objects.filter(codename__in=["view_classroom", "change_classroom"]))
    classroom.teachers.add(limited)
    client.force_login(limited)
    assert client.get(invite_url(classroom)).status_code == 403


def test_word_lists_stay_shared(teacher_client, spanish):
    """Lists are the school's material: every teacher sees them all."""
    WordList.objects.create(name="French", language="fr")
    response = teacher_client.get(LISTS)
    assert {wl.name for wl in response.context["cl"].result_list} == {"Spanish basics", "French"}


def test_a_learner_joining_a_class_finds_its_words_in_the_tutors_plan_at_once(classroom, bob):
    from django.utils import timezone

    from tutor.material_cache import tutor_material_cached
    from tutor.models import Word, WordList

    lunar = WordList.objects.create(name="Lunar words", language="es")
    Word.objects.create(word_list=lunar, term="luna", meaning="moon", position=0)
    now = timezone.now()

    def planned():
        material = tutor_material_cached(learner=bob, now=now, limit=12, revision_limit=2)
        return [state.word.term for state in material.new]

    assert "luna" not in planned()  # read once, so it is in the cache
    classroom_list_assign(classroom=classroom, word_list=lunar, due_on=DUE)
    classroom_learners_add(classroom=classroom, learners=[bob])
    assert "luna" in planned()
