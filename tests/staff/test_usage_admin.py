"""The staff page of voice usage and estimated cost per learner per day."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from tests.conftest import make_user
from tutor.models import TutorSession

pytestmark = pytest.mark.django_db

URL = "/admin/tutor/tutorsession/usage/"
USAGE = {
    "input_text_tokens": 1000,
    "input_audio_tokens": 2000,
    "input_cached_text_tokens": 0,
    "input_cached_audio_tokens": 0,
    "output_text_tokens": 300,
    "output_audio_tokens": 4000,
    "responses": 4,
}


@pytest.fixture
def sessions(alice, bob):
    now = timezone.now()
    for learner, minutes in [(alice, 6), (alice, 4), (bob, 3)]:
        TutorSession.objects.create(
            learner=learner, status="ended", model="m", voice="v", instructions="",
            minted_at=now - dt.timedelta(minutes=30), connected_at=now - dt.timedelta(minutes=30),
            ended_at=now - dt.timedelta(minutes=30 - minutes), usage=USAGE,
        )


def test_the_url_is_named():
    assert reverse("admin:tutor_tutorsession_usage") == URL


def test_staff_see_minutes_tokens_and_cost_per_learner_per_day(staff_client, sessions, settings):
    settings.REALTIME_PRICE_TEXT_IN_PER_MTOK = 4
    settings.REALTIME_PRICE_AUDIO_IN_PER_MTOK = 32
    settings.REALTIME_PRICE_TEXT_OUT_PER_MTOK = 16
    settings.REALTIME_PRICE_AUDIO_OUT_PER_MTOK = 64
    response = staff_client.get(URL)

    assert response.status_code == 200
    rows = {row.learner_email: row for row in response.context["rows"]}
    assert set(rows) == {"alice@example.com", "bob@example.com"}
    assert (rows["alice@example.com"].sessions, rows["alice@example.com"].minutes) == (2, 10.0)
    body = response.content.decode()
    assert "alice@example.com" in body and "bob@example.com" in body
    # Per session: 1000×4 + 2000×32 + 300×16 + 4000×64 per million = $0.3288.
    assert "$0.6576" in body  # alice's two sessions
    assert "$0.3288" in body  # bob's one
    assert "3000 (1000 / 2000)" in body
    assert "$0.99" in body  # the total, to the cent


def test_the_changelist_links_to_it(staff_client):
    assert URL in staff_client.get("/admin/tutor/tutorsession/").content.decode()


def test_the_date_range_can_be_chosen(staff_client, sessions):
    last_week = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    response = staff_client.get(URL, {"start": last_week, "end": last_week})
    assert response.context["rows"] == []
    assert "No voice sessions in this period." in response.content.decode()


def test_a_reversed_range_is_an_error_not_a_crash(staff_client, sessions):
    response = staff_client.get(URL, {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "must not be after" in response.content.decode()


def test_learners_are_refused(alice_client, sessions):
    response = alice_client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_anonymous_visitors_are_refused(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_session_view_permission_are_refused(db, sessions):
    clerk = make_user("clerk@example.com", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_user"))
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(pk=clerk.pk))
    assert client.get(URL).status_code == 403


def test_the_dates_start_as_this_month(staff_client, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 11, 17))
    page = staff_client.get("/admin/tutor/tutorsession/usage/").content.decode()
    assert 'value="2026-11-01"' in page and 'value="2026-11-17"' in page
