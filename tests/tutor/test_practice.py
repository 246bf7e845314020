import datetime as dt

import pytest
from fsrs import Card, Rating, Scheduler

from tutor.models import Review, TutorSession, WordProgress
from tutor.practice import term_practice_record, word_practice_record

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)


def session_for(learner) -> TutorSession:
    return TutorSession.objects.create(learner=learner, model="m", voice="v", instructions="")


def test_it_creates_progress_on_first_practice(alice, alice_words):
    word = alice_words.words.get(term="gato")
    progress = word_practice_record(learner=alice, word=word, outcome="correct", now=NOW)
    assert (progress.repetitions, progress.correct_count, progress.incorrect_count) == (1, 1, 0)
    assert progress.last_reviewed_at == NOW
    # Good on a new card: the second learning step, ten minutes.
    assert progress.due_at == NOW + dt.timedelta(minutes=10)
    assert (progress.card_state, progress.step) == (WordProgress.CardState.LEARNING, 1)
    assert progress.stability is not None and progress.difficulty is not None
    assert WordProgress.objects.filter(learner=alice).count() == 1


def test_it_counts_misses_and_keeps_one_row(alice, alice_words):
    word = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=word, outcome="correct", now=NOW)
    progress = word_practice_record(learner=alice, word=word, outcome="incorrect", now=NOW)
    assert (progress.repetitions, progress.correct_count, progress.incorrect_count) == (2, 1, 1)
    assert progress.last_result == "incorrect"
    assert WordProgress.objects.filter(learner=alice, word=word).count() == 1


def test_outcomes_map_to_ratings_and_the_schedule_is_the_librarys(alice, alice_words):
    word = alice_words.words.get(term="gato")
    times = [NOW, NOW + dt.timedelta(minutes=10), NOW + dt.timedelta(days=3), NOW + dt.timedelta(days=9)]
    outcomes = ["correct", "correct", "hesitant", "incorrect"]
    for when, outcome in zip(times, outcomes):
        progress = word_practice_record(learner=alice, word=word, outcome=outcome, now=when)
    scheduler = Scheduler(desired_retention=0.9, enable_fuzzing=False)
    card = Card(card_id=1, due=NOW)
    for when, rating in zip(times, [Rating.Good, Rating.Good, Rating.Hard, Rating.Again]):
        card, _ = scheduler.review_card(card, rating, when)
    assert (progress.card_state, progress.step, progress.due_at) == (int(card.state), card.step, card.due)
    assert progress.stability == pytest.approx(card.stability)
    assert progress.difficulty == pytest.approx(card.difficulty)
    assert list(Review.objects.order_by("id").values_list("rating", flat=True)) == [3, 3, 2, 1]


def test_it_marks_a_word_mastered_once_the_interval_is_long(alice, alice_words):
    word = alice_words.words.get(term="gato")
    days = [0, 0.01, 3, 14]
    for day in days[:-1]:
        progress = word_practice_record(learner=alice, word=word, rating=3, now=NOW + dt.timedelta(days=day))
        assert not progress.is_mastered and progress.mastered_at is None
    when = NOW + dt.timedelta(days=days[-1])
    progress = word_practice_record(learner=alice, word=word, rating=3, now=when)
    assert progress.interval_days >= 21 and progress.is_mastered and progress.mastered_at == when
    progress = word_practice_record(learner=alice, word=word, rating=1, now=when + dt.timedelta(days=30))
    assert not progress.is_mastered and progress.mastered_at is None


def test_it_logs_every_review_with_its_source(alice, alice_words):
    word = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=word, outcome="correct", now=NOW)
    word_practice_record(learner=alice, word=word, outcome="hesitant", source="voice", now=NOW)
    assert list(Review.objects.order_by("id").values_list("outcome", "source")) == [
        ("correct", "flashcard"),
        ("hesitant", "voice"),
    ]


def test_a_word_repeated_ten_times_in_one_session_is_one_scheduled_review(alice, alice_words):
    word = alice_words.words.get(term="casa")
    session = session_for(alice)
    for second in range(10):
        progress = term_practice_record(
            learner=alice, words=[word], outcome="correct", source="voice", session=session,
            now=NOW + dt.timedelta(seconds=4 * second),
        )
    reviews = Review.objects.filter(learner=alice, word=word, session=session)
    assert reviews.count() == 10
    assert reviews.filter(scheduled=True).count() == 1
    assert (progress.repetitions, progress.correct_count) == (1, 1)
    assert progress.last_reviewed_at == NOW and progress.due_at == NOW + dt.timedelta(minutes=10)
    assert not progress.is_mastered


def test_a_later_miss_in_the_same_session_is_history_only_and_a_new_session_counts(alice, alice_words):
    word = alice_words.words.get(term="casa")
    first = session_for(alice)
    word_practice_record(learner=alice, word=word, outcome="correct", source="voice", session=first, now=NOW)
    progress = word_practice_record(
        learner=alice, word=word, outcome="incorrect", source="voice", session=first,
        now=NOW + dt.timedelta(minutes=1),
    )
    assert (progress.last_result, progress.incorrect_count) == ("correct", 0)
    later = Review.objects.get(session=first, outcome="incorrect")
    assert not later.scheduled and later.rating == 1
    # Flashcards (no session) and another session schedule as usual.
    word_practice_record(learner=alice, word=word, rating=3, now=NOW + dt.timedelta(minutes=20))
    progress = word_practice_record(
        learner=alice, word=word, outcome="correct", source="voice", session=session_for(alice),
        now=NOW + dt.timedelta(days=2),
    )
    assert progress.repetitions == 3
    assert Review.objects.filter(scheduled=True).count() == 3


def test_the_rule_is_per_learner_and_word(alice, bob, alice_words):
    session = session_for(alice)
    gato, casa = alice_words.words.get(term="gato"), alice_words.words.get(term="casa")
    word_practice_record(learner=alice, word=gato, outcome="correct", session=session, now=NOW)
    progress = word_practice_record(learner=alice, word=casa, outcome="correct", session=session, now=NOW)
    assert progress.repetitions == 1
    assert Review.objects.filter(scheduled=True).count() == 2


def test_bad_ratings_and_outcomes_are_refused_and_record_nothing(alice, alice_words):
    word = alice_words.words.get(term="gato")
    for kwargs in [{"rating": 5}, {"rating": 0}, {"outcome": "brilliant"}, {}]:
        with pytest.raises(ValueError):
            word_practice_record(learner=alice, word=word, now=NOW, **kwargs)
    assert not Review.objects.exists() and not WordProgress.objects.exists()


@pytest.mark.parametrize(
    ("outcome", "clear", "rating"),
    [("correct", True, Rating.Good), ("correct", False, Rating.Hard), ("correct", None, Rating.Good),
     ("incorrect", True, Rating.Again)],
)
def test_voice_evidence_is_rated_by_clarity_and_the_review_keeps_it(alice, alice_words, outcome, clear, rating):
    word = alice_words.words.get(term="gato")
    session = session_for(alice)
    progress = word_practice_record(
        learner=alice, word=word, outcome=outcome, clear=clear, source="voice", session=session, now=NOW
    )
    review = Review.objects.get(learner=alice, word=word)
    assert (review.rating, review.clear, review.outcome) == (int(rating), clear, outcome)
    expected, _ = Scheduler(desired_retention=0.9, enable_fuzzing=False).review_card(
        Card(card_id=1, due=NOW), rating, NOW
    )
    assert progress.due_at == expected.due


def test_an_unclear_repeat_in_the_same_session_is_kept_but_does_not_reschedule(alice, alice_words):
    word = alice_words.words.get(term="gato")
    session = session_for(alice)
    first = word_practice_record(
        learner=alice, word=word, outcome="correct", clear=True, source="voice", session=session, now=NOW
    )
    again = word_practice_record(
        learner=alice, word=word, outcome="correct", clear=False, source="voice", session=session, now=NOW
    )
    assert again.due_at == first.due_at
    assert list(Review.objects.order_by("pk").values_list("clear", "scheduled", "rating")) == [
        (True, True, int(Rating.Good)), (False, False, int(Rating.Hard))
    ]
