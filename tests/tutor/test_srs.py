import datetime as dt

import pytest
from fsrs import Card, Rating, Scheduler

from tutor import srs

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)


def test_outcomes_map_to_ratings():
    assert srs.outcome_rating("correct") == Rating.Good
    assert srs.outcome_rating("hesitant") == Rating.Hard
    assert srs.outcome_rating("incorrect") == Rating.Again



@pytest.mark.parametrize(
    ("outcome", "clear", "rating"),
    [
        ("correct", True, Rating.Good),
        ("correct", None, Rating.Good),  # clarity unknown: the outcome alone
        ("correct", False, Rating.Hard),
        ("hesitant", True, Rating.Hard),
        ("hesitant", False, Rating.Hard),
        ("incorrect", True, Rating.Again),
        ("incorrect", False, Rating.Again),
    ],
)
def test_clarity_turns_a_correct_but_unclear_answer_into_hard(outcome, clear, rating):
    assert srs.outcome_rating(outcome, clear=clear) == rating


def test_an_unknown_outcome_is_refused_whatever_the_clarity():
    with pytest.raises(ValueError):
        srs.outcome_rating("brilliant", clear=True)
    with pytest.raises(ValueError):
        srs.outcome_rating("brilliant")


def test_replay_is_the_library_review_by_review():
    reviews = [(NOW, Rating.Good), (NOW + dt.timedelta(minutes=10), Rating.Good),
               (NOW + dt.timedelta(days=4), Rating.Easy), (NOW + dt.timedelta(days=30), Rating.Again)]
    mine = srs.replay(reviews, desired_retention=0.85, start=NOW)
    scheduler = Scheduler(desired_retention=0.85, enable_fuzzing=False)
    card = Card(card_id=1, due=NOW)
    for when, rating in reviews:
        card, _ = scheduler.review_card(card, rating, when)
    assert (mine.state, mine.step, mine.due_at, mine.last_reviewed_at) == (card.state, card.step, card.due, card.last_review)
    assert (mine.stability, mine.difficulty) == (card.stability, card.difficulty)


def test_a_higher_retention_brings_words_back_sooner():
    card = srs.replay([(NOW, Rating.Good), (NOW + dt.timedelta(minutes=10), Rating.Good)],
                      desired_retention=0.9, start=NOW)
    later = NOW + dt.timedelta(days=3)
    usual = srs.preview(card, now=later, desired_retention=0.9)
    keen = srs.preview(card, now=later, desired_retention=0.97)
    assert keen[Rating.Good] < usual[Rating.Good]
    assert usual[Rating.Again] < usual[Rating.Hard] <= usual[Rating.Good] < usual[Rating.Easy]


def test_interval_days_counts_whole_days_and_zero_in_a_step():
    card = srs.replay([(NOW, Rating.Good)], desired_retention=0.9, start=NOW)
    assert card.interval_days == 0
    assert srs.new_card(NOW).interval_days == 0
    card = srs.replay([(NOW, Rating.Easy)], desired_retention=0.9, start=NOW)
    assert card.interval_days == (card.due_at - NOW).days > 1


@pytest.mark.parametrize(
    "delta, label",
    [
        (dt.timedelta(seconds=20), "1 min"),
        (dt.timedelta(minutes=10), "10 min"),
        (dt.timedelta(hours=5), "5 h"),
        (dt.timedelta(days=1), "1 d"),
        (dt.timedelta(days=4), "4 d"),
        (dt.timedelta(days=90), "3 mo"),
        (dt.timedelta(days=438), "1.2 y"),
    ],
)
def test_interval_labels(delta, label):
    assert srs.interval_label(delta) == label


def test_retention_is_the_learners_or_the_sites(settings):
    from types import SimpleNamespace

    settings.FSRS_DESIRED_RETENTION = 0.85
    assert srs.retention_for(SimpleNamespace(desired_retention=None)) == 0.85
    assert srs.retention_for(SimpleNamespace(desired_retention=0.95)) == 0.95
