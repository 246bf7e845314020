"""The writes of a session's life: its call, its end, and whose it is."""

import datetime as dt

import pytest

from tutor.models import TutorSession
from voice.sessions import (
    SessionClosed,
    session_call_start,
    session_end,
    tutor_session_get,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)


def session_connect(*, session, call_id, now=NOW):
    """Report a call for ``session``, as the socket does; the session as recorded."""
    return session_call_start(session=session, call_id=call_id, now=now)[0]


# --- sessions -----------------------------------------------------------------------


def test_connecting_records_the_call_and_the_first_connect_time(session):
    connected = session_connect(session=session, call_id="rtc_1", now=NOW)
    assert (connected.status, connected.call_id, connected.connected_at) == ("live", "rtc_1", NOW)

    again = session_connect(session=session, call_id="rtc_2", now=NOW + dt.timedelta(minutes=2))
    assert (again.call_id, again.connected_at) == ("rtc_2", NOW)
    session.refresh_from_db()
    assert (session.status, session.call_id, session.connected_at) == ("live", "rtc_2", NOW)


def test_each_new_call_settles_one_key_and_a_repeated_report_settles_none(session):
    TutorSession.objects.filter(pk=session.pk).update(keys_unreported=2)
    assert session_connect(session=session, call_id="rtc_1", now=NOW).keys_unreported == 1
    assert session_connect(session=session, call_id="rtc_1", now=NOW).keys_unreported == 1
    assert session_connect(session=session, call_id="rtc_2", now=NOW).keys_unreported == 0
    # More calls than keys (a page opening two calls with one key) never goes below zero.
    assert session_connect(session=session, call_id="rtc_3", now=NOW).keys_unreported == 0


@pytest.mark.parametrize("status", ["ended", "failed"])
def test_a_closed_session_cannot_be_connected(session, status):
    TutorSession.objects.filter(pk=session.pk).update(status=status)
    with pytest.raises(SessionClosed):
        session_connect(session=session, call_id="rtc_1")
    session.refresh_from_db()
    assert session.call_id == ""


def test_ending_records_the_time_reason_and_duration_once(session):
    session_connect(session=session, call_id="rtc_1", now=NOW)
    ended = session_end(session=session, reason="user", now=NOW + dt.timedelta(seconds=95))
    assert (ended.status, ended.end_reason, ended.duration) == ("ended", "user", dt.timedelta(seconds=95))

    again = session_end(session=session, reason="hangup", now=NOW + dt.timedelta(hours=1))
    assert (again.end_reason, again.ended_at) == ("user", NOW + dt.timedelta(seconds=95))


def test_a_session_that_never_connected_ends_without_a_duration(session):
    ended = session_end(session=session, reason="error", now=NOW)
    assert (ended.status, ended.duration) == ("ended", None)


def test_a_learner_only_gets_their_own_session(session, bob):
    assert tutor_session_get(learner=session.learner, session_id=session.pk) == session
    assert tutor_session_get(learner=bob, session_id=session.pk) is None
    assert tutor_session_get(learner=bob, session_id=2**80) is None
    assert tutor_session_get(learner=bob, session_id=0) is None
