"""Learners in the admin: progress columns, filters, assignments, creating and inviting learners."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from tests.conftest import PASSWORD, make_user
from tutor.models import Assignment, TestResult, TutorSession, WordList, WordProgress

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


def review(learner, word, *, interval_days, due_in_days, reviewed_days_ago=1, now=None):
    now = now or timezone.now()
    return WordProgress.objects.create(
        learner=learner,
        word=word,
        repetitions=3,
        interval_days=interval_days,
        due_at=now + dt.timedelta(days=due_in_days),
        last_result="correct",
        last_reviewed_at=now - dt.timedelta(days=reviewed_days_ago),
    )


def row_of(body: str, email: str) -> str:
    """The changelist table row that shows ``email``."""
    rows = re.findall(r"<tr>.*?</tr>", body, flags=re.S)
    matches = [row for row in rows if email in row]
    assert len(matches) == 1, f"no single row for {email}"
    return matches[0]


def cells(row: str, *names: str) -> list[str]:
    found = []
    for name in names:
        match = re.search(rf'<td class="field-{name}[^"]*">(.*?)</td>', row, flags=re.S)
        assert match, f"no {name} column"
        found.append(re.sub(r"<[^>]+>", "", match.group(1)).strip())
    return found


@pytest.fixture
def alice_progress(alice, alice_words):
    gato, perro, casa, _agua = alice_words.words.order_by("position")
    review(alice, gato, interval_days=30, due_in_days=20)  # mastered
    review(alice, perro, interval_days=6, due_in_days=-1)  # due
    review(alice, casa, interval_days=25, due_in_days=-2)  # mastered and due
    TestResult.objects.create(learner=alice, word_list=alice_words, score=8, max_score=10)
    TestResult.objects.create(learner=alice, word_list=alice_words, score=1, max_score=2)
    return alice


# --- columns --------------------------------------------------------------


def test_it_shows_each_learners_progress_summary(staff_client, alice_progress, bob):
    body = staff_client.get(CHANGELIST).content.decode()

    mastered, due, grade, lists = cells(
        row_of(body, "alice@example.com"),
        "words_mastered",
        "words_due",
        "average_grade",
        "assigned_lists",
    )
    assert (mastered, due, grade, lists) == ("2", "2", "65%", "Spanish basics")
    assert cells(
        row_of(body, "bob@example.com"), "words_mastered", "words_due", "average_grade"
    ) == [
        "0",
        "0",
        "—",
    ]


def test_it_counts_only_words_of_assigned_lists(staff_client, alice_progress, alice_words):
    Assignment.objects.filter(learner=alice_progress).delete()

    body = staff_client.get(CHANGELIST).content.decode()

    assert cells(row_of(body, "alice@example.com"), "words_mastered", "words_due") == ["0", "0"]


def test_last_active_is_the_latest_of_login_review_and_session(
    staff_client, alice, bob, alice_words
):
    now = timezone.now()
    User.objects.filter(pk=alice.pk).update(last_login=now - dt.timedelta(days=9))
    review(alice, alice_words.words.first(), interval_days=1, due_in_days=1, reviewed_days_ago=5)
    TutorSession.objects.create(
        learner=alice, model="m", voice="v", instructions="", minted_at=now - dt.timedelta(days=3)
    )

    response = staff_client.get(CHANGELIST)

    learners = {user.email: user for user in response.context["cl"].result_list}
    assert abs(
        learners["alice@example.com"]._last_active - (now - dt.timedelta(days=3))
    ) < dt.timedelta(seconds=1)
    assert learners["bob@example.com"]._last_active is None
    assert cells(row_of(response.content.decode(), "bob@example.com"), "last_active") == ["never"]


def test_it_lists_many_learners_in_a_constant_number_of_queries(
    staff_client, spanish, django_assert_max_num_queries
):
    def add_learners(count: int, start: int) -> None:
        words = list(spanish.words.all())
        for n in range(start, start + count):
            learner = make_user(f"learner{n:02}@example.com", display_name=f"Learner {n}")
            Assignment.objects.create(learner=learner, word_list=spanish)
            for word in words[:2]:
                review(learner, word, interval_days=n % 30, due_in_days=n % 3 - 1)
            TestResult.objects.create(
                learner=learner, word_list=spanish, score=n % 10, max_score=10
            )
            TutorSession.objects.create(learner=learner, model="m", voice="v", instructions="")

    add_learners(2, 0)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(CHANGELIST).status_code == 200
    add_learners(30, 2)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(CHANGELIST)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 32  # learners only: staff are a filter away


def test_it_orders_learners_by_average_grade(staff_client, alice_progress, bob):
    TestResult.objects.create(learner=bob, score=10, max_score=10)

    response = staff_client.get(CHANGELIST, {"o": "-8"})  # average grade, descending

    emails = [user.email for user in response.context["cl"].result_list]
    assert emails[:2] == ["bob@example.com", "alice@example.com"]


# --- filters and search ---------------------------------------------------


def listed(client: Client, **params) -> set[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return {user.email for user in response.context["cl"].result_list}


def test_it_filters_by_cefr_level(staff_client, alice, bob):
    assert listed(staff_client, cefr_level__exact="A2") == {"alice@example.com"}


def test_it_filters_by_assigned_word_list(staff_client, alice_words, bob):
    other = WordList.objects.create(name="French", language="fr")
    Assignment.objects.create(learner=bob, word_list=other)

    assert listed(staff_client, word_lists__id__exact=alice_words.pk) == {"alice@example.com"}
    assert listed(staff_client, word_lists__id__exact=other.pk) == {"bob@example.com"}


@pytest.mark.parametrize(
    "choice, expected",
    [
        ("today", {"today@example.com"}),
        ("7d", {"today@example.com", "week@example.com"}),
        ("30d", {"today@example.com", "week@example.com", "month@example.com"}),
        ("never", {"never@example.com"}),
    ],
)
def test_it_filters_by_last_active(staff_client, spanish, choice, expected):
    now = timezone.now()
    make_user("today@example.com", last_login=now - dt.timedelta(minutes=1))
    week = make_user("week@example.com")
    review(week, spanish.words.first(), interval_days=1, due_in_days=1, reviewed_days_ago=3)
    month = make_user("month@example.com")
    TutorSession.objects.create(
        learner=month, model="m", voice="v", instructions="", minted_at=now - dt.timedelta(days=20)
    )
    make_user("never@example.com")
    make_user("long-ago@example.com", last_login=now - dt.timedelta(days=90))

    assert listed(staff_client, active=choice) == expected  # staff (logged in) are not learners


def test_the_list_shows_learners_and_staff_only_when_asked(staff_client, alice):
    assert listed(staff_client) == {"alice@example.com"}
    assert listed(staff_client, role="staff") == {"staff@example.com"}
    assert listed(staff_client, role="everyone") == {"alice@example.com", "staff@example.com"}


def test_the_admin_index_has_one_accounts_heading_and_says_learners(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert page.count(">Accounts</a>") == 1
    assert ">Learners</a>" in page and ">Users</a>" not in page


def test_it_filters_staff_and_active_users(staff_client, alice, bob):
    User.objects.filter(pk=bob.pk).update(is_active=False)

    assert listed(staff_client, role="staff") == {"staff@example.com"}
    assert listed(staff_client, is_active__exact="0") == {"bob@example.com"}


def test_it_searches_by_email_and_display_name(staff_client, alice, bob):
    assert listed(staff_client, q="bob@") == {"bob@example.com"}
    assert listed(staff_client, q="Alice") == {"alice@example.com"}


# --- the learner page -----------------------------------------------------


def change_data(learner: User, **extra) -> dict:
    data = {
        "email": learner.email,
        "display_name": learner.display_name,
        "native_language": learner.native_language,
        "target_language": learner.target_language,
        "cefr_level": learner.cefr_level,
        "daily_voice_minutes": learner.daily_voice_minutes,
        "is_active": "on",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
    }
    data.update(extra)
    return data


def test_the_learner_page_shows_progress_and_assignments(staff_client, alice_progress):
    url = reverse("admin:accounts_user_change", args=[alice_progress.pk])
    body = staff_client.get(url).content.decode()

    assert "Spanish basics" in body
    assert 'name="assignments-0-word_list"' in body
    assert "65%" in body
    assert re.search(r"Last active:</label>\s*<div[^>]*>\w+\.? \d+, \d{4}, ", body)  # localized
    assert f"/admin/tutor/testresult/?learner__id__exact={alice_progress.pk}" in body


def test_the_page_of_a_learner_never_seen_says_so(staff_client, bob):
    body = staff_client.get(reverse("admin:accounts_user_change", args=[bob.pk])).content.decode()

    assert re.search(r"Last active:</label>\s*<div[^>]*>never</div>", body)
    assert re.search(r"Average grade:</label>\s*<div[^>]*>—</div>", body)


def test_it_assigns_word_lists_and_sets_daily_minutes_from_the_learner_page(
    staff_client, alice, spanish
):
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    data = change_data(
        alice,
        daily_voice_minutes="45",
        **{"assignments-TOTAL_FORMS": "1", "assignments-0-word_list": str(spanish.pk)},
    )

    response = staff_client.post(url, data)

    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else ""
    )
    alice.refresh_from_db()
    assert alice.daily_voice_minutes == 45
    assert list(alice.word_lists.all()) == [spanish]


def test_staff_set_a_learners_desired_retention_within_bounds(staff_client, alice):
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    assert 'name="desired_retention"' in staff_client.get(url).content.decode()
    for bad in ["0.5", "1.2", "lots"]:
        response = staff_client.post(url, change_data(alice, desired_retention=bad))
        assert response.status_code == 200 and "desired_retention" in response.context["adminform"].form.errors
    alice.refresh_from_db()
    assert alice.desired_retention is None
    assert staff_client.post(url, change_data(alice, desired_retention="0.95")).status_code == 302
    alice.refresh_from_db()
    assert alice.desired_retention == 0.95
    # Emptied again: the site's default.
    assert staff_client.post(url, change_data(alice, desired_retention="")).status_code == 302
    alice.refresh_from_db()
    assert alice.desired_retention is None


def test_it_edits_daily_minutes_in_the_list(staff_client, alice):
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(alice.pk),
        "form-0-daily_voice_minutes": "35",
        "_save": "Save",
    }

    response = staff_client.post(f"{CHANGELIST}?q=alice", data)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.daily_voice_minutes == 35


# --- creating and inviting ------------------------------------------------


def add_data(**extra) -> dict:
    data = {
        "email": "Dora@Example.com",
        "display_name": "Dora",
        "native_language": "en",
        "target_language": "es",
        "cefr_level": "B1",
        "daily_voice_minutes": "15",
        "send_invitation": "on",
        "password1": "",
        "password2": "",
    }
    data.update(extra)
    return data


def set_password_through(client: Client, message, password: str) -> None:
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", message.body).group(1)
    page = client.get(link, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    response = client.post(form_url, {"password1": password, "password2": password})
    assert response.status_code == 302


def test_it_creates_a_learner_and_emails_an_invitation(
    staff_client, spanish, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:accounts_user_add"), add_data(word_lists=[str(spanish.pk)])
        )

    assert response.status_code == 302
    dora = User.objects.get(email="dora@example.com")
    assert (dora.display_name, dora.cefr_level, dora.daily_voice_minutes) == ("Dora", "B1", 15)
    assert not dora.has_usable_password()
    assert not dora.is_staff
    assert list(dora.word_lists.all()) == [spanish]
    [message] = mail.outbox
    assert message.to == ["dora@example.com"]
    assert "invited" in message.subject.lower()

    set_password_through(Client(), message, "a-new-phrase-for-dora")

    dora.refresh_from_db()
    assert dora.check_password("a-new-phrase-for-dora")
    assert Client().login(email="dora@example.com", password="a-new-phrase-for-dora")


def test_it_creates_a_learner_with_a_password_and_no_email(
    staff_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:accounts_user_add"),
            add_data(send_invitation="", password1=PASSWORD, password2=PASSWORD),
        )

    assert response.status_code == 302
    assert User.objects.get(email="dora@example.com").check_password(PASSWORD)
    assert mail.outbox == []


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"send_invitation": ""}, "Set a password or tick"),
        ({"password1": PASSWORD, "password2": "something else"}, "The two passwords differ"),
        ({"email": "ALICE@example.com"}, "already exists"),
    ],
)
def test_it_refuses_an_incomplete_learner(staff_client, alice, fields, error):
    response = staff_client.post(reverse("admin:accounts_user_add"), add_data(**fields))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not User.objects.filter(email="dora@example.com").exists()
    assert mail.outbox == []


def test_the_invite_action_emails_active_learners_a_working_link(staff_client, alice, bob):
    User.objects.filter(pk=bob.pk).update(is_active=False)

    response = staff_client.post(
        CHANGELIST,
        {"action": "send_invitation", "_selected_action": [alice.pk, bob.pk]},
        follow=True,
    )

    assert "Sent 1 invitation. Skipped 1 deactivated user." in response.content.decode()
    [message] = mail.outbox
    assert message.to == [alice.email]
    set_password_through(Client(), message, "alice-chose-this-phrase")
    alice.refresh_from_db()
    assert alice.check_password("alice-chose-this-phrase")


def test_the_deactivate_action_deactivates_learners_but_not_yourself(
    staff_client, staff, alice, bob
):
    response = staff_client.post(
        CHANGELIST + "?role=everyone",  # staff are listed only when asked for
        {"action": "deactivate", "_selected_action": [alice.pk, staff.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert set(User.objects.filter(is_active=False).values_list("email", flat=True)) == {
        alice.email
    }
    assert "can’t deactivate yourself" in response.content.decode()
    assert not Client().login(email=alice.email, password=PASSWORD)


# --- learners and visitors reach none of it -------------------------------


def staff_requests(alice: User) -> list[tuple[str, str, dict]]:
    return [
        ("get", CHANGELIST, {}),
        ("get", reverse("admin:accounts_user_add"), {}),
        ("get", reverse("admin:accounts_user_change", args=[alice.pk]), {}),
        ("post", reverse("admin:accounts_user_add"), add_data()),
        ("post", CHANGELIST, {"action": "send_invitation", "_selected_action": [alice.pk]}),
        ("post", CHANGELIST, {"action": "deactivate", "_selected_action": [alice.pk]}),
        (
            "post",
            reverse("admin:accounts_user_change", args=[alice.pk]),
            change_data(alice, is_staff="on"),
        ),
    ]


@pytest.mark.parametrize("who", ["alice", "anonymous"])
def test_learners_and_visitors_are_sent_to_the_admin_login(who, alice, alice_client, client):
    visitor = alice_client if who == "alice" else client
    for method, url, data in staff_requests(alice):
        response = getattr(visitor, method)(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url

    alice.refresh_from_db()
    assert alice.is_active and not alice.is_staff
    assert not User.objects.filter(email="dora@example.com").exists()
    assert mail.outbox == []


def test_invitations_name_the_site_and_its_domain_not_the_host(staff_client, settings, alice, mailoutbox):
    settings.SITE_NAME = "Parlance School"
    settings.SITE_DOMAIN = "learn.example.org"
    staff_client.post("/admin/accounts/user/", {"action": "send_invitation", "_selected_action": [alice.pk]})
    message = mailoutbox[-1]
    assert message.subject.startswith("[Parlance School] ")
    assert "Hello from Parlance School!" in message.body and "testserver" not in message.body
    assert "http://learn.example.org/accounts/password/reset/key/" in message.body
    assert "learn.example.org" in message.body.rsplit("Thank you", 1)[-1]


def test_a_password_reset_email_names_the_site(client, settings, alice, mailoutbox):
    settings.SITE_NAME = "Parlance School"
    client.post("/accounts/password/reset/", {"email": alice.email})
    message = mailoutbox[-1]
    assert message.subject.startswith("[Parlance School] ")
    assert "Hello from Parlance School!" in message.body
