"""The dashboard says when today's voice minutes are used up, before Start and the microphone."""

import datetime as dt

import pytest

from tutor.models import TutorSession

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def frozen(monkeypatch, settings):
    settings.TIME_ZONE = "UTC"
    monkeypatch.setattr("common.clock.now", lambda: NOW)


def used(learner, minutes: int) -> TutorSession:
    return TutorSession.objects.create(
        learner=learner, status="ended", model="m", voice="v", instructions="",
        minted_at=NOW - dt.timedelta(minutes=minutes + 5), connected_at=NOW - dt.timedelta(minutes=minutes + 5),
        ended_at=NOW - dt.timedelta(minutes=5), end_reason="user",
    )


def test_a_learner_with_minutes_left_sees_no_notice_and_the_tutor_button(alice_client, alice, alice_words):
    used(alice, 10)
    body = alice_client.get("/").content.decode()
    assert "data-voice-minutes" not in body and 'data-action="tutor"' in body


def test_a_learner_who_used_todays_minutes_is_told_on_the_dashboard(alice_client, alice, alice_words):
    used(alice, 20)
    body = alice_client.get("/").content.decode()
    assert "data-voice-minutes" in body and "You have used today&#x27;s 20 minutes." in body
    assert 'data-action="tutor"' not in body  # the main button is the flashcards instead
    assert 'class="button" href="/review/"' in body


def test_another_learners_minutes_do_not_count(bob_client, alice, bob):
    used(alice, 20)
    assert "data-voice-minutes" not in bob_client.get("/").content.decode()


def test_a_learner_without_voice_minutes_is_told_once(alice_client, alice, alice_words):
    alice.daily_voice_minutes = 0
    alice.save()
    body = alice_client.get("/").content.decode()
    assert "Voice practice is not turned on" in body and "data-voice-minutes" not in body
    assert 'data-action="tutor"' not in body
