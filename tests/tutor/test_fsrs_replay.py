"""The data migration that replays each learner-word's review history through FSRS."""

import datetime as dt
import importlib
import time
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fsrs import Card, Rating, Scheduler

from tutor.demo import demo_seed
from tutor.models import Review, TutorSession, Word, WordList, WordProgress
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
migration = importlib.import_module("tutor.migrations.0011_fsrs_replay")
CARD_FIELDS = ["card_state", "step", "stability", "difficulty", "due_at", "last_reviewed_at", "interval_days"]


def run_replay():
    migration.replay(apps, SimpleNamespace(connection=connection))


def cards():
    return {
        (row["learner_id"], row["word_id"]): row
        for row in WordProgress.objects.values("learner_id", "word_id", *CARD_FIELDS, "repetitions")
    }


def library_card(reviews, retention=0.9):
    scheduler = Scheduler(desired_retention=retention, enable_fuzzing=False)
    card = None
    for reviewed_at, rating in reviews:
        card = card or Card(card_id=1, due=reviewed_at)
        card, _ = scheduler.review_card(card, Rating(rating), reviewed_at)
    return card


def test_replaying_the_demo_data_gives_the_card_the_library_computes():
    demo_seed(now=NOW)
    live = cards()
    assert live, "the demo has progress"
    WordProgress.objects.update(card_state=1, step=0, stability=None, difficulty=None, interval_days=0)
    run_replay()
    replayed = cards()
    assert replayed == live  # the same as practice.py computed review by review
    for (learner_id, word_id), row in replayed.items():
        reviews = list(
            Review.objects.filter(learner_id=learner_id, word_id=word_id)
            .order_by("reviewed_at", "pk")
            .values_list("reviewed_at", "rating")
        )
        card = library_card(reviews)
        assert (row["card_state"], row["step"], row["due_at"], row["last_reviewed_at"]) == (
            int(card.state), card.step, card.due, card.last_review
        )
        assert row["stability"] == pytest.approx(card.stability)
        assert row["difficulty"] == pytest.approx(card.difficulty)
        assert row["repetitions"] == len(reviews)
    states = {p.state for p in WordProgress.objects.all()}
    assert {"learning", "mastered"} <= states


def test_legacy_history_is_replayed_from_outcomes_one_review_per_session(alice, alice_words):
    gato, casa = alice_words.words.get(term="gato"), alice_words.words.get(term="casa")
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    # The old schedule: casa went to "mastered" in one session of repetitions.
    WordProgress.objects.create(
        learner=alice, word=casa, repetitions=8, interval_days=105, last_result="correct",
        due_at=NOW + dt.timedelta(days=105), last_reviewed_at=NOW, mastered_at=NOW, correct_count=8,
    )
    WordProgress.objects.create(learner=alice, word=gato, interval_days=40, repetitions=5)  # no history
    for second in range(8):
        Review.objects.create(
            learner=alice, word=casa, outcome="correct", source="voice", session=session,
            reviewed_at=NOW + dt.timedelta(seconds=5 * second), rating=None,
        )
    run_replay()
    casa_progress = WordProgress.objects.get(word=casa)
    card = library_card([(NOW, Rating.Good)])
    assert (casa_progress.due_at, casa_progress.repetitions, casa_progress.correct_count) == (card.due, 1, 1)
    assert casa_progress.state == "learning" and casa_progress.mastered_at is None
    assert Review.objects.filter(word=casa, scheduled=True).count() == 1
    assert set(Review.objects.values_list("rating", flat=True)) == {3}
    gato_progress = WordProgress.objects.get(word=gato)
    assert (gato_progress.card_state, gato_progress.step, gato_progress.stability) == (1, 0, None)
    assert gato_progress.interval_days == 0 and not gato_progress.is_mastered


def test_history_without_a_progress_row_gets_one(alice, alice_words):
    agua = alice_words.words.get(term="agua")
    Review.objects.create(learner=alice, word=agua, outcome="hesitant", reviewed_at=NOW)
    run_replay()
    progress = WordProgress.objects.get(learner=alice, word=agua)
    card = library_card([(NOW, Rating.Hard)])
    assert (progress.due_at, progress.last_result, progress.correct_count) == (card.due, "hesitant", 1)


def test_a_learners_own_retention_is_used(alice, alice_words):
    alice.desired_retention = 0.97
    alice.save()
    gato = alice_words.words.get(term="gato")
    WordProgress.objects.create(learner=alice, word=gato)
    history = [(NOW, 3), (NOW + dt.timedelta(minutes=10), 3), (NOW + dt.timedelta(days=2), 3)]
    Review.objects.bulk_create(
        Review(learner=alice, word=gato, outcome="correct", rating=r, reviewed_at=t) for t, r in history
    )
    run_replay()
    assert WordProgress.objects.get(word=gato).due_at == library_card(history, retention=0.97).due
    assert library_card(history, retention=0.97).due < library_card(history, retention=0.9).due


def test_ten_thousand_words_replay_fast_in_bulk():
    learner = make_user("many@example.com")
    word_list = WordList.objects.create(name="Big", language="es")
    Word.objects.bulk_create(
        Word(word_list=word_list, term=f"w{n}", meaning=f"m{n}", position=n) for n in range(10_000)
    )
    words = list(Word.objects.filter(word_list=word_list).values_list("pk", flat=True))
    WordProgress.objects.bulk_create(WordProgress(learner=learner, word_id=pk) for pk in words)
    outcomes = ["correct", "hesitant", "incorrect"]
    Review.objects.bulk_create(
        (
            Review(
                learner=learner, word_id=pk, outcome=outcomes[(n + k) % 3],
                reviewed_at=NOW + dt.timedelta(days=3 * k, minutes=n % 500),
            )
            for n, pk in enumerate(words)
            for k in range(n % 4)
        ),
        batch_size=2000,
    )
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        run_replay()
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert len(queries) < 200, len(queries)
    reviewed = WordProgress.objects.filter(learner=learner, stability__isnull=False)
    assert reviewed.count() == sum(1 for n in range(10_000) if n % 4)
    print(f"replayed 10,000 words in {elapsed:.1f}s, {len(queries)} queries")
