import datetime as dt

import pytest

from voice.limits import (
    LimitReached,
    call_deadline,
    limit_message,
    limit_sessions,
    mint_allowed,
    mint_events_prune,
    open_sessions,
    seconds_used,
    voice_seconds_left,
)
from voice.sessions import mint_release, mint_reserve
from tutor.models import MintEvent, TutorSession

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)


def voice_seconds_used(*, learner, now):
    return seconds_used(limit_sessions(learner=learner, now=now), now=now)


def live_sessions(*, learner, now):
    return open_sessions(limit_sessions(learner=learner, now=now), now=now)


@pytest.fixture(autouse=True)
def limits(settings):
    settings.TIME_ZONE = "UTC"
    settings.TUTOR_MINTS_PER_MINUTE = 5
    settings.TUTOR_MAX_LIVE_SESSIONS = 1
    settings.TUTOR_MAX_SESSION_MINUTES = 30
    settings.REALTIME_TOKEN_TTL_SECONDS = 60
    return settings


def session(
    learner, *, status="live", minted=None, connected=None, ended=None, hangup=None, keys=0
) -> TutorSession:
    return TutorSession.objects.create(
        keys_unreported=keys,
        learner=learner,
        status=status,
        model="gpt-realtime",
        voice="marin",
        instructions="",
        minted_at=minted or connected or NOW,
        connected_at=connected,
        ended_at=ended,
        hangup_at=hangup,
    )


def reserved(learner) -> TutorSession:
    """A new session reserved for ``learner`` at NOW; it must be the only row the mint adds."""
    sessions, mints = TutorSession.objects.count(), MintEvent.objects.count()
    created = mint_reserve(
        learner=learner, now=NOW, upstream_base_url="x",
        new_session={"model": "m", "voice": "v", "instructions": "", "focus_words": []},
    )
    # The new session is the record of its first key: the mint rate counts its minted_at.
    assert (TutorSession.objects.count(), MintEvent.objects.count()) == (sessions + 1, mints)
    assert created.minted_at == NOW
    assert (created.learner_id, created.status, created.keys_unreported) == (learner.pk, "minted", 1)
    return created


def refusal(**kwargs) -> LimitReached:
    with pytest.raises(LimitReached) as caught:
        mint_allowed(**kwargs)
    return caught.value


# --- rate -------------------------------------------------------------------------------


def test_it_allows_a_first_mint(alice):
    assert mint_allowed(learner=alice, now=NOW) == 20 * 60  # the whole day's allowance
    assert reserved(alice).hangup_at == NOW + 20 * MIN


def test_the_sixth_mint_within_a_minute_is_refused_with_429(alice, settings):
    settings.TUTOR_MAX_LIVE_SESSIONS = 10
    for seconds in range(5):
        MintEvent.objects.create(learner=alice, created_at=NOW - dt.timedelta(seconds=50 - seconds))

    problem = refusal(learner=alice, now=NOW)
    assert (problem.status, problem.code) == (429, "rate_limited")
    assert "too quickly" in problem.message


def test_mints_older_than_a_minute_do_not_count(alice, settings):
    settings.TUTOR_MAX_LIVE_SESSIONS = 10
    for seconds in range(5):
        MintEvent.objects.create(learner=alice, created_at=NOW - dt.timedelta(seconds=61 + seconds))
    assert mint_allowed(learner=alice, now=NOW) == 20 * 60
    assert reserved(alice).hangup_at == NOW + 20 * MIN


def test_the_rate_is_per_learner(alice, bob):
    for _ in range(5):
        MintEvent.objects.create(learner=bob, created_at=NOW)
    assert mint_allowed(learner=alice, now=NOW) == 20 * 60
    reserved(alice)
    assert refusal(learner=bob, now=NOW).code == "rate_limited"


def test_the_rate_is_configurable(alice, settings):
    settings.TUTOR_MINTS_PER_MINUTE = 1
    MintEvent.objects.create(learner=alice, created_at=NOW - dt.timedelta(seconds=10))
    assert refusal(learner=alice, now=NOW).status == 429


def test_a_resume_counts_toward_the_rate(alice):
    resumed = session(alice, connected=NOW - 5 * MIN, hangup=NOW + 25 * MIN)
    for _ in range(5):
        MintEvent.objects.create(learner=alice, session=resumed, created_at=NOW)
    assert refusal(learner=alice, now=NOW, session=resumed).code == "rate_limited"


# --- live sessions ----------------------------------------------------------------------


def test_a_second_live_session_is_refused_with_403(alice):
    live = session(alice, connected=NOW - 5 * MIN, hangup=NOW + 25 * MIN)

    problem = refusal(learner=alice, now=NOW)
    assert (problem.status, problem.code, problem.session_id) == (403, "session_live", live.pk)
    assert "already have a session open" in problem.message and "continue it here" in problem.message


def test_a_resume_of_the_live_session_is_allowed(alice):
    live = session(alice, connected=NOW - 5 * MIN, hangup=NOW + 25 * MIN)
    # Its own five minutes are spent; a resume makes no new session and adds one mint.
    assert mint_allowed(learner=alice, now=NOW, session=live) == 15 * 60
    resumed = mint_reserve(learner=alice, now=NOW, upstream_base_url="x", session=live)
    assert list(TutorSession.objects.values_list("pk", flat=True)) == [live.pk]
    assert list(MintEvent.objects.values_list("session", "created_at")) == [(live.pk, NOW)]
    assert (resumed.keys_unreported, resumed.hangup_at) == (1, NOW + 25 * MIN)


def test_a_fresh_key_whose_call_is_not_reported_yet_is_live(alice):
    session(alice, status="minted", minted=NOW - dt.timedelta(seconds=30), hangup=NOW + 20 * MIN, keys=1)
    assert refusal(learner=alice, now=NOW).code == "session_live"


def test_an_unreported_key_keeps_its_session_live_until_its_hangup_time(alice):
    # Long past the key's expiry: the call it may have opened could still be running.
    session(alice, status="minted", minted=NOW - 19 * MIN, hangup=NOW + MIN, keys=1)
    assert refusal(learner=alice, now=NOW).code == "session_live"
    assert live_sessions(learner=alice, now=NOW + MIN) == []


def test_ending_a_session_whose_call_was_never_reported_does_not_free_the_slot(alice):
    session(alice, status="ended", minted=NOW - 2 * MIN, ended=NOW - MIN, hangup=NOW + 18 * MIN, keys=1)
    problem = refusal(learner=alice, now=NOW)
    assert (problem.code, problem.session_id) == ("session_live", None)  # nothing to continue
    assert problem.message == (
        "Your last session never told Parlance that its call started, so it counts as "
        "running for 18 minutes more."
    )


def test_a_session_with_no_key_owed_and_no_call_is_not_live(alice):
    # Its only key was never issued (the upstream refused it).
    session(alice, status="minted", minted=NOW - 5 * MIN, hangup=NOW + 15 * MIN, keys=0)
    assert mint_allowed(learner=alice, now=NOW) == 20 * 60  # and it used none of the day
    reserved(alice)


def test_a_session_past_its_hangup_time_does_not_lock_the_learner_out(alice):
    # The page crashed and nobody ended it; its time is up all the same.
    session(alice, connected=NOW - 10 * MIN, hangup=NOW - dt.timedelta(seconds=1))
    # It counted until its hang-up time, a second short of ten minutes.
    assert mint_allowed(learner=alice, now=NOW) == 10 * 60 + 1
    assert reserved(alice).hangup_at == NOW + dt.timedelta(seconds=10 * 60 + 1)


def test_a_session_without_a_hangup_time_is_live_for_the_maximum_length(alice):
    alice.daily_voice_minutes = 120
    session(alice, connected=NOW - 29 * MIN)
    assert refusal(learner=alice, now=NOW).code == "session_live"
    assert live_sessions(learner=alice, now=NOW + 2 * MIN) == []


def test_ended_sessions_are_not_live(alice):
    session(alice, status="ended", connected=NOW - 5 * MIN, ended=NOW - MIN, hangup=NOW + 25 * MIN)
    assert mint_allowed(learner=alice, now=NOW) == 16 * 60  # it ran four minutes
    assert reserved(alice).hangup_at == NOW + 16 * MIN


def test_more_live_sessions_can_be_allowed_and_share_the_day(alice, settings):
    settings.TUTOR_MAX_LIVE_SESSIONS = 3
    session(alice, connected=NOW - 5 * MIN, hangup=NOW + 5 * MIN)
    # 15 minutes of the day are left, 5 of them the open session may still use.
    assert mint_allowed(learner=alice, now=NOW) == 10 * 60
    session(alice, connected=NOW - 1 * MIN, hangup=NOW + 9 * MIN)
    # 14 left, 5 + 9 spoken for: nothing is left for a third session at once.
    assert refusal(learner=alice, now=NOW).code == "minutes_used"
    settings.TUTOR_MAX_LIVE_SESSIONS = 2
    assert "2 sessions open" in refusal(learner=alice, now=NOW).message


def test_another_learners_live_session_does_not_count(alice, bob):
    session(bob, connected=NOW - 5 * MIN, hangup=NOW + 25 * MIN)
    assert mint_allowed(learner=alice, now=NOW) == 20 * 60  # nor do Bob's minutes
    reserved(alice)
    assert refusal(learner=bob, now=NOW).code == "session_live"


# --- daily minutes ----------------------------------------------------------------------


def test_minutes_are_counted_from_todays_sessions(alice):
    session(alice, status="ended", connected=NOW - 60 * MIN, ended=NOW - 52 * MIN)
    session(alice, status="ended", connected=NOW - 30 * MIN, ended=NOW - 25 * MIN)
    # Yesterday's session counts only from midnight.
    midnight = NOW.replace(hour=0)
    session(alice, status="ended", connected=midnight - 3 * MIN, ended=midnight + 2 * MIN)

    assert voice_seconds_used(learner=alice, now=NOW) == (8 + 5 + 2) * 60
    assert voice_seconds_left(learner=alice, now=NOW) == (20 - 15) * 60


def test_a_live_session_counts_up_to_now(alice):
    session(alice, connected=NOW - 7 * MIN, hangup=NOW + 13 * MIN)
    assert voice_seconds_used(learner=alice, now=NOW) == 7 * 60


def test_a_session_never_counts_past_its_hangup_time(alice):
    session(alice, connected=NOW - 20 * MIN, hangup=NOW - 15 * MIN)
    # Ended long after its cap (say, by a late message from the page): still five minutes.
    session(alice, status="ended", connected=NOW - 60 * MIN, ended=NOW - MIN, hangup=NOW - 55 * MIN)
    assert voice_seconds_used(learner=alice, now=NOW) == 10 * 60


def test_sessions_that_never_connected_and_owe_no_key_use_no_minutes(alice):
    session(alice, status="ended", minted=NOW - 10 * MIN, ended=NOW - 9 * MIN)
    assert voice_seconds_used(learner=alice, now=NOW) == 0


def test_a_session_owing_a_key_counts_to_its_hangup_time_even_once_ended(alice):
    alice.daily_voice_minutes = 60
    # Minted 20 minutes ago with a 30-minute cap; the page said "ended" a minute later.
    owed = session(
        alice, status="ended", minted=NOW - 20 * MIN, connected=NOW - 20 * MIN, ended=NOW - 19 * MIN,
        hangup=NOW + 10 * MIN, keys=1,
    )
    assert voice_seconds_used(learner=alice, now=NOW) == 20 * 60
    assert voice_seconds_used(learner=alice, now=NOW + 15 * MIN) == 30 * 60
    # Once its call is accounted for, only the time it ran counts.
    owed.keys_unreported = 0
    owed.save()
    assert voice_seconds_used(learner=alice, now=NOW) == MIN.total_seconds()


def test_a_session_owing_a_key_from_yesterday_counts_from_midnight(alice):
    midnight = NOW.replace(hour=0)
    session(alice, status="ended", minted=midnight - 5 * MIN, ended=midnight - 4 * MIN, hangup=midnight + 15 * MIN, keys=1)
    assert voice_seconds_used(learner=alice, now=NOW) == 15 * 60


def test_minutes_count_from_the_first_mint_not_the_connection(alice):
    session(alice, minted=NOW - 3 * MIN, connected=NOW - 2 * MIN, hangup=NOW + 17 * MIN)
    assert voice_seconds_used(learner=alice, now=NOW) == 3 * 60


def test_the_day_follows_the_server_time_zone(alice, settings):
    settings.TIME_ZONE = "America/New_York"  # noon UTC is 08:00 EDT on 10 March 2026
    # 07:00-07:20 UTC is 03:00-03:20 in New York: today there.
    session(alice, status="ended", connected=NOW - 5 * 60 * MIN, ended=NOW - 5 * 60 * MIN + 20 * MIN)
    # 02:00-02:20 UTC is 22:00-22:20 the day before in New York: not today.
    session(alice, status="ended", connected=NOW - 10 * 60 * MIN, ended=NOW - 10 * 60 * MIN + 20 * MIN)
    assert voice_seconds_used(learner=alice, now=NOW) == 20 * 60


def test_a_learner_whose_minutes_are_used_is_refused_with_403(alice):
    session(alice, status="ended", connected=NOW - 30 * MIN, ended=NOW - 10 * MIN)

    problem = refusal(learner=alice, now=NOW)
    assert (problem.status, problem.code) == (403, "minutes_used")
    assert problem.message == "You have used today's 20 minutes."


def test_a_resume_is_refused_when_the_minutes_are_used(alice):
    earlier = session(alice, status="ended", connected=NOW - 60 * MIN, ended=NOW - 45 * MIN)
    assert earlier
    live = session(alice, connected=NOW - 5 * MIN, hangup=NOW + MIN)
    # Fifteen minutes earlier and five now: all twenty used.
    assert refusal(learner=alice, now=NOW, session=live).code == "minutes_used"


def test_a_learner_with_no_minutes_is_told_to_ask_their_teacher(alice):
    alice.daily_voice_minutes = 0
    assert "ask your teacher" in refusal(learner=alice, now=NOW).message


def test_a_resume_past_its_hangup_time_is_refused(alice):
    live = session(alice, connected=NOW - 31 * MIN, hangup=NOW - MIN)
    alice.daily_voice_minutes = 120
    problem = refusal(learner=alice, now=NOW, session=live)
    assert (problem.status, problem.code) == (403, "time_limit")
    assert problem.message == "This session reached its 30-minute limit."


# --- reserve ----------------------------------------------------------------------------


def test_reserving_creates_the_session_and_records_the_mint(alice):
    created = mint_reserve(
        learner=alice, now=NOW, upstream_base_url="https://api.example.test/v1",
        new_session={"model": "gpt-realtime", "voice": "marin", "instructions": "Hi", "focus_words": []},
    )
    assert (created.minted_at, created.upstream_base_url, created.status) == (
        NOW, "https://api.example.test/v1", "minted"
    )
    # Its key is owed a reported call, and its time is capped from the start.
    assert (created.keys_unreported, created.hangup_at) == (1, NOW + 20 * MIN)
    assert not MintEvent.objects.exists()  # its minted_at counts its first key


def test_reserving_a_refused_mint_writes_nothing(alice):
    session(alice, connected=NOW - 5 * MIN, hangup=NOW + 25 * MIN)
    with pytest.raises(LimitReached):
        mint_reserve(
            learner=alice, now=NOW, upstream_base_url="x",
            new_session={"model": "m", "voice": "v", "instructions": "", "focus_words": []},
        )
    assert TutorSession.objects.count() == 1
    assert not MintEvent.objects.exists()


def test_a_new_sessions_cap_is_the_maximum_length_when_the_day_allows(alice):
    alice.daily_voice_minutes = 120
    alice.save()
    created = mint_reserve(
        learner=alice, now=NOW, upstream_base_url="x",
        new_session={"model": "m", "voice": "v", "instructions": "", "focus_words": []},
    )
    assert created.hangup_at == NOW + 30 * MIN


def test_a_resume_owes_one_more_key_and_keeps_its_cap(alice):
    live = session(alice, connected=NOW - 5 * MIN, hangup=NOW + 15 * MIN)
    resumed = mint_reserve(learner=alice, now=NOW, upstream_base_url="x", session=live)
    assert (resumed.keys_unreported, resumed.hangup_at, resumed.minted_at) == (1, NOW + 15 * MIN, NOW - 5 * MIN)


def test_releasing_a_key_that_was_never_issued(alice):
    live = session(alice, connected=NOW - 5 * MIN, hangup=NOW + 15 * MIN, keys=1)
    mint_release(session=live)
    mint_release(session=live)
    live.refresh_from_db()
    assert live.keys_unreported == 0


def test_old_mint_records_are_pruned_by_the_sweep_not_the_mint(alice):
    MintEvent.objects.create(learner=alice, created_at=NOW - dt.timedelta(days=2))
    MintEvent.objects.create(learner=alice, created_at=NOW - dt.timedelta(hours=23))
    live = session(alice, connected=NOW - 5 * MIN, hangup=NOW + 25 * MIN)
    mint_reserve(learner=alice, now=NOW, upstream_base_url="x", session=live)
    assert MintEvent.objects.count() == 3

    assert mint_events_prune(now=NOW) == 1
    assert sorted(MintEvent.objects.values_list("created_at", flat=True)) == [
        NOW - dt.timedelta(hours=23), NOW
    ]


def test_the_limits_read_the_learners_sessions_in_one_query(alice, django_assert_num_queries):
    for minutes in range(5):
        session(alice, status="ended", connected=NOW - (60 - minutes) * MIN, ended=NOW - (58 - minutes) * MIN)
    session(alice, connected=NOW - 5 * MIN, hangup=NOW + 10 * MIN)
    with django_assert_num_queries(1):  # the verified address, the mint count and the sessions
        with pytest.raises(LimitReached):
            mint_allowed(learner=alice, now=NOW)


# --- deadline ---------------------------------------------------------------------------


def test_the_deadline_is_the_maximum_session_length_when_minutes_remain(alice):
    alice.daily_voice_minutes = 120
    alice.save()
    live = session(alice, connected=NOW)
    assert call_deadline(session=live, now=NOW) == NOW + 30 * MIN
    live.hangup_at = NOW + 30 * MIN
    assert limit_message(session=live) == "This session reached its 30-minute limit."


def test_the_deadline_is_when_todays_minutes_run_out(alice):
    session(alice, status="ended", connected=NOW - 60 * MIN, ended=NOW - 48 * MIN)
    live = session(alice, connected=NOW)
    assert call_deadline(session=live, now=NOW) == NOW + 8 * MIN
    live.hangup_at = NOW + 8 * MIN
    assert limit_message(session=live) == "You have used today's 20 minutes."


def test_after_a_resume_the_deadline_stays_where_it_was(alice):
    live = session(alice, connected=NOW - 10 * MIN)
    # Ten of the twenty minutes used by this very session: ten left.
    assert call_deadline(session=live, now=NOW) == NOW + 10 * MIN


def test_a_fractional_maximum_length_is_allowed(alice, settings):
    settings.TUTOR_MAX_SESSION_MINUTES = 0.1
    live = session(alice, connected=NOW)
    assert call_deadline(session=live, now=NOW) == NOW + dt.timedelta(seconds=6)
    live.hangup_at = NOW + dt.timedelta(seconds=6)
    assert limit_message(session=live) == "This session reached its 0.1-minute limit."


def test_only_sessions_that_can_still_count_are_read(alice):
    """A session counts until its cutoff, at most its mint plus the longest session: older
    ones are not read at all (the learner's minted_at index bounds the read)."""
    midnight = NOW.replace(hour=0)
    forgotten = session(alice, status="live", connected=NOW - dt.timedelta(days=3))  # never ended
    across_midnight = session(alice, connected=midnight - 10 * MIN, ended=midnight + 20 * MIN, status="ended")
    read = {s.pk for s in limit_sessions(learner=alice, now=NOW)}
    assert read == {across_midnight.pk}
    assert forgotten.pk not in read
    assert voice_seconds_used(learner=alice, now=NOW) == 20 * 60  # after midnight only
    assert live_sessions(learner=alice, now=NOW) == []


def test_a_resume_is_checked_under_the_lock_and_a_session_that_ended_meanwhile_gets_no_key(alice, bob):
    from voice.keys import KeyRefused, _resumable

    live = session(alice, connected=NOW - 5 * MIN, hangup=NOW + 10 * MIN)
    stale = TutorSession.objects.get(pk=live.pk)  # what the request read before the lock
    TutorSession.objects.filter(pk=live.pk).update(status="ended", ended_at=NOW, end_reason="hung up")
    with pytest.raises(KeyRefused) as refused:
        mint_reserve(learner=alice, now=NOW, upstream_base_url="x", session=stale, resumable=_resumable)
    assert refused.value.code == "session_ended"
    assert TutorSession.objects.get(pk=live.pk).keys_unreported == 0
    # Another learner's session is nobody's to resume.
    with pytest.raises(KeyRefused) as refused:
        mint_reserve(learner=bob, now=NOW, upstream_base_url="x", session=stale, resumable=_resumable)
    assert refused.value.code == "not_found"
