import datetime as dt

import pytest

from tutor.models import Review, WordProgress
from tutor.practice import word_practice_record

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)


def test_it_creates_progress_on_first_practice(alice, alice_words):
    word = alice_words.words.get(term="gato")
    progress = word_practice_record(learner=alice, word=word, outcome="correct", now=NOW)
    assert (progress.repetitions, progress.correct_count, progress.incorrect_count) == (1, 1, 0)
    assert progress.last_reviewed_at == NOW
    assert progress.due_at == NOW + dt.timedelta(days=1)
    assert WordProgress.objects.filter(learner=alice).count() == 1


def test_it_counts_misses_and_keeps_one_row(alice, alice_words):
    word = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=word, outcome="correct", now=NOW)
    progress = word_practice_record(learner=alice, word=word, outcome="incorrect", now=NOW)
    assert (progress.repetitions, progress.correct_count, progress.incorrect_count) == (0, 1, 1)
    assert progress.last_result == "incorrect"
    assert WordProgress.objects.filter(learner=alice, word=word).count() == 1


def test_it_marks_a_word_mastered_once_the_interval_is_long(alice, alice_words):
    word = alice_words.words.get(term="gato")
    WordProgress.objects.create(learner=alice, word=word, repetitions=3, interval_days=16, ease=2.6)
    progress = word_practice_record(learner=alice, word=word, outcome="correct", now=NOW)
    assert progress.is_mastered and progress.mastered_at == NOW


def test_it_logs_every_review_with_its_source(alice, alice_words):
    word = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=word, outcome="correct", now=NOW)
    word_practice_record(learner=alice, word=word, outcome="hesitant", source="voice", now=NOW)
    assert list(Review.objects.order_by("id").values_list("outcome", "source")) == [
        ("correct", "flashcard"),
        ("hesitant", "voice"),
    ]
