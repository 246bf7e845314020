import datetime as dt

import pytest

from tutor import srs

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_it_follows_the_sm2_intervals_on_success():
    state = srs.next_schedule(repetitions=0, interval_days=0, ease=2.5, quality=5, now=NOW)
    assert (state.repetitions, state.interval_days) == (1, 1)
    state = srs.next_schedule(repetitions=1, interval_days=1, ease=state.ease, quality=5, now=NOW)
    assert (state.repetitions, state.interval_days) == (2, 6)
    state = srs.next_schedule(repetitions=2, interval_days=6, ease=2.6, quality=4, now=NOW)
    assert (state.repetitions, state.interval_days) == (3, 16)
    assert state.due_at == NOW + dt.timedelta(days=16)


def test_a_failure_resets_repetitions_and_lowers_ease():
    state = srs.next_schedule(repetitions=4, interval_days=30, ease=2.5, quality=1, now=NOW)
    assert (state.repetitions, state.interval_days) == (0, 1)
    assert state.ease < 2.5


def test_ease_never_drops_below_the_floor():
    state = srs.next_schedule(repetitions=0, interval_days=1, ease=1.3, quality=0, now=NOW)
    assert state.ease == srs.MIN_EASE


def test_it_rejects_unknown_outcomes_and_qualities():
    with pytest.raises(ValueError):
        srs.outcome_quality("brilliant")
    with pytest.raises(ValueError):
        srs.next_schedule(repetitions=0, interval_days=0, ease=2.5, quality=6, now=NOW)
