import datetime as dt
from decimal import Decimal

import pytest

from tutor.models import TutorSession
from voice.sessions import UsageRefused, session_usage_add
from voice.usage import (
    COUNTS,
    Prices,
    usage_by_learner_day,
    usage_cost,
    usage_normalize,
    usage_totals,
)

NOW = dt.datetime(2026, 3, 10, 18, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)
PRICES = Prices(
    text_in=Decimal("4"), text_out=Decimal("16"), audio_in=Decimal("32"), audio_out=Decimal("64"),
    cached_in=Decimal("0.4"),
)
REPORTED = {
    "total_tokens": 821,
    "input_tokens": 789,
    "output_tokens": 32,
    "input_token_details": {
        "text_tokens": 313,
        "audio_tokens": 476,
        "cached_tokens": 640,
        "cached_tokens_details": {"text_tokens": 256, "audio_tokens": 384},
    },
    "output_token_details": {"text_tokens": 9, "audio_tokens": 23},
}
NORMALISED = {
    "input_text_tokens": 313,
    "input_audio_tokens": 476,
    "input_cached_text_tokens": 256,
    "input_cached_audio_tokens": 384,
    "output_text_tokens": 9,
    "output_audio_tokens": 23,
}


# --- normalising ----------------------------------------------------------------------------


def test_it_reads_openais_usage_shape():
    assert usage_normalize(REPORTED) == NORMALISED


def test_missing_details_make_the_total_text():
    assert usage_normalize({"input_tokens": 50, "output_tokens": 7}) == {
        **dict.fromkeys(COUNTS, 0), "input_text_tokens": 50, "output_text_tokens": 7
    }


def test_cached_tokens_without_a_split_go_to_text_first():
    usage = {"input_tokens": 100, "input_token_details": {"text_tokens": 30, "audio_tokens": 70, "cached_tokens": 50}}
    normalised = usage_normalize(usage)
    assert (normalised["input_cached_text_tokens"], normalised["input_cached_audio_tokens"]) == (30, 20)


def test_cached_tokens_never_exceed_what_they_are_part_of():
    usage = {"input_token_details": {"text_tokens": 5, "cached_tokens": 9, "cached_tokens_details": {"text_tokens": 9}}}
    assert usage_normalize(usage)["input_cached_text_tokens"] == 5


@pytest.mark.parametrize(
    "usage",
    [None, [], "x", {"input_tokens": -1}, {"input_tokens": 1.5}, {"output_tokens": True},
     {"input_tokens": 10**10}, {"output_token_details": "audio"}],
)
def test_it_refuses_malformed_usage(usage):
    with pytest.raises(ValueError):
        usage_normalize(usage)


# --- cost ---------------------------------------------------------------------------------


def test_the_cost_prices_each_kind_of_token():
    cost = usage_cost(NORMALISED, PRICES)
    expected = (
        (313 - 256) * Decimal(4) + (476 - 384) * Decimal(32) + (256 + 384) * Decimal("0.4")
        + 9 * Decimal(16) + 23 * Decimal(64)
    ) / 1_000_000
    assert cost == expected
    assert cost == Decimal("0.005044")


def test_no_tokens_cost_nothing():
    assert usage_cost({}, PRICES) == 0


def test_a_million_audio_output_tokens_cost_the_audio_output_price():
    assert usage_cost({"output_audio_tokens": 1_000_000}, PRICES) == Decimal(64)


# --- the ledger ---------------------------------------------------------------------------


@pytest.fixture
def session(alice):
    return TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")


@pytest.mark.django_db
def test_each_response_is_counted_once(session):
    assert session_usage_add(session=session, response_id="resp_1", usage=NORMALISED) is True
    assert session_usage_add(session=session, response_id="resp_1", usage=NORMALISED) is False
    assert session_usage_add(session=session, response_id="resp_2", usage=NORMALISED) is True

    session.refresh_from_db()
    assert session.usage["responses"] == 2
    assert session.usage["input_audio_tokens"] == 952
    assert session.usage["output_tokens"] == 64


@pytest.mark.django_db
def test_a_session_takes_a_bounded_number_of_responses(session, monkeypatch):
    monkeypatch.setattr("voice.sessions.MAX_RESPONSES_PER_SESSION", 2)
    session_usage_add(session=session, response_id="resp_1", usage=NORMALISED)
    session_usage_add(session=session, response_id="resp_2", usage=NORMALISED)
    with pytest.raises(UsageRefused):
        session_usage_add(session=session, response_id="resp_3", usage=NORMALISED)
    assert session_usage_add(session=session, response_id="resp_2", usage=NORMALISED) is False


# --- per learner per day --------------------------------------------------------------------


def make(learner, *, connected, minutes=None, usage=None, status="ended", **fields):
    return TutorSession.objects.create(
        learner=learner, status=status, model="m", voice="v", instructions="",
        minted_at=fields.pop("minted", connected), connected_at=connected,
        ended_at=connected + minutes * MIN if minutes is not None else None,
        usage=usage or {}, **fields,
    )


@pytest.mark.django_db
def test_it_sums_minutes_and_tokens_per_learner_per_day(alice, bob, settings):
    settings.TIME_ZONE = "UTC"
    make(alice, connected=NOW - 60 * MIN, minutes=5, usage={**NORMALISED, "responses": 3})
    make(alice, connected=NOW - 30 * MIN, minutes=7, usage=NORMALISED)
    make(alice, connected=NOW - 26 * 60 * MIN, minutes=2)  # the day before
    make(bob, connected=NOW - 10 * MIN, status="live", hangup_at=NOW + 10 * MIN)  # still live
    make(bob, connected=None, minted=NOW - 5 * MIN, status="minted")  # never connected

    rows = usage_by_learner_day(start=dt.date(2026, 3, 9), end=dt.date(2026, 3, 10), now=NOW, prices=PRICES)

    summary = [(row.day.isoformat(), row.learner_email, row.sessions, row.minutes) for row in rows]
    assert summary == [
        ("2026-03-10", "alice@example.com", 2, 12.0),
        ("2026-03-10", "bob@example.com", 2, 10.0),
        ("2026-03-09", "alice@example.com", 1, 2.0),
    ]
    alice_today = rows[0]
    assert alice_today.input_tokens == 2 * (313 + 476)
    assert alice_today.output_tokens == 2 * (9 + 23)
    assert alice_today.cost == 2 * usage_cost(NORMALISED, PRICES)
    assert rows[1].cost == 0

    totals = usage_totals(rows)
    assert (totals.sessions, totals.minutes, totals.cost) == (5, 24.0, alice_today.cost)


@pytest.mark.django_db
def test_the_range_excludes_other_days(alice):
    make(alice, connected=NOW - 3 * 24 * 60 * MIN, minutes=5)
    assert usage_by_learner_day(start=dt.date(2026, 3, 9), end=dt.date(2026, 3, 10), now=NOW) == []
    assert usage_totals([]) is None


@pytest.mark.django_db
def test_a_key_whose_call_was_never_reported_is_charged_to_the_sessions_cap(alice, settings):
    settings.TIME_ZONE = "UTC"
    # Minted 30 minutes ago, never reported, said "ended" at once; its cap was 20 minutes.
    make(alice, connected=None, minted=NOW - 30 * MIN, status="ended", hangup_at=NOW - 10 * MIN, keys_unreported=1)
    [row] = usage_by_learner_day(start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 10), now=NOW)
    assert (row.sessions, row.minutes) == (1, 20.0)


@pytest.mark.django_db
def test_the_usage_rows_take_a_fixed_number_of_queries(alice, bob, django_assert_max_num_queries):
    for learner in (alice, bob) * 5:
        make(learner, connected=NOW - 30 * MIN, minutes=5, keys_unreported=1, hangup_at=NOW)
    with django_assert_max_num_queries(1):
        rows = usage_by_learner_day(start=dt.date(2026, 3, 9), end=dt.date(2026, 3, 10), now=NOW)
    assert sum(row.sessions for row in rows) == 10
