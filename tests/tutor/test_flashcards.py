import datetime as dt

import pytest
from django.db import transaction
from django.http import Http404

from tutor.models import Assignment, Review, Word, WordList, WordProgress
from tutor.flashcards import (
    ReviewRound,
    grade_choices,
    review_card_grade,
    review_cards,
    review_round_card,
    review_round_start,
    review_word_get,
)
from tutor.practice import word_practice_record

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def reviewed(learner, word, *, due_in_days: float, **fields) -> WordProgress:
    return WordProgress.objects.create(
        learner=learner,
        word=word,
        repetitions=1,
        interval_days=1,
        last_reviewed_at=NOW - dt.timedelta(days=2),
        due_at=NOW + dt.timedelta(days=due_in_days),
        **fields,
    )


def test_it_puts_due_words_first_oldest_due_first_then_new_words_in_list_order(alice, alice_words):
    words = {word.term: word for word in alice_words.words.all()}
    reviewed(alice, words["agua"], due_in_days=-1)
    reviewed(alice, words["perro"], due_in_days=-3)
    reviewed(alice, words["casa"], due_in_days=+2)  # not due yet

    cards = review_cards(learner=alice, now=NOW)

    assert [(card.word.term, card.kind) for card in cards] == [
        ("perro", "due"),
        ("agua", "due"),
        ("gato", "new"),
    ]


def test_it_bounds_the_round(alice, alice_words):
    for i in range(20):
        alice_words.words.create(term=f"palabra{i}", meaning=f"word {i}", position=10 + i)
    assert len(review_cards(learner=alice, now=NOW)) == 10
    assert len(review_cards(learner=alice, now=NOW, limit=3)) == 3


def test_it_only_uses_the_learners_assigned_lists(alice, bob, alice_words):
    assert review_cards(learner=bob, now=NOW) == []
    other = WordList.objects.create(name="Not assigned", language="es")
    Word.objects.create(word_list=other, term="zorro", meaning="fox")
    assert "zorro" not in [card.word.term for card in review_cards(learner=alice, now=NOW)]


def test_grading_a_card_updates_progress_and_logs_a_flashcard_review(alice, alice_words):
    round_ = review_round_start(learner=alice, now=NOW)
    card = review_round_card(learner=alice, review_round=round_, now=NOW)

    assert review_card_grade(learner=alice, review_round=round_, word=card.word, grade="good", now=NOW)

    progress = WordProgress.objects.get(learner=alice, word=card.word)
    assert (progress.last_result, progress.correct_count, progress.last_reviewed_at) == ("correct", 1, NOW)
    review = Review.objects.get(learner=alice, word=card.word)
    assert (review.source, review.outcome) == ("flashcard", "correct")
    assert round_.grades == {card.word.pk: "good"}
    assert review_round_card(learner=alice, review_round=round_, now=NOW).word != card.word


@pytest.mark.parametrize(("grade", "outcome"), [("again", "incorrect"), ("hard", "hesitant"), ("good", "correct")])
def test_each_grade_records_its_outcome(alice, alice_words, grade, outcome):
    round_ = review_round_start(learner=alice, now=NOW)
    word = Word.objects.get(pk=round_.word_ids[0])
    review_card_grade(learner=alice, review_round=round_, word=word, grade=grade, now=NOW)
    assert WordProgress.objects.get(learner=alice, word=word).last_result == outcome


def test_a_card_is_graded_once_per_round(alice, alice_words):
    round_ = review_round_start(learner=alice, now=NOW)
    word = Word.objects.get(pk=round_.word_ids[0])
    assert review_card_grade(learner=alice, review_round=round_, word=word, grade="good", now=NOW)
    assert not review_card_grade(learner=alice, review_round=round_, word=word, grade="again", now=NOW)
    assert Review.objects.filter(learner=alice, word=word).count() == 1


def test_a_word_outside_the_round_is_not_graded(alice, alice_words):
    round_ = ReviewRound(word_ids=[alice_words.words.get(term="gato").pk], started_at=NOW.timestamp())
    perro = alice_words.words.get(term="perro")
    assert not review_card_grade(learner=alice, review_round=round_, word=perro, grade="good", now=NOW)
    assert not Review.objects.exists()


def test_an_unknown_grade_is_refused(alice, alice_words):
    round_ = review_round_start(learner=alice, now=NOW)
    with pytest.raises(ValueError):
        review_card_grade(
            learner=alice, review_round=round_, word=Word.objects.get(pk=round_.word_ids[0]), grade="perfect", now=NOW
        )


def test_the_round_ends_when_every_card_is_graded(alice, alice_words):
    round_ = review_round_start(learner=alice, now=NOW)
    for word_id in list(round_.word_ids):
        card = review_round_card(learner=alice, review_round=round_, now=NOW)
        assert card.word.pk == word_id
        review_card_grade(learner=alice, review_round=round_, word=card.word, grade="hard", now=NOW)
    assert review_round_card(learner=alice, review_round=round_, now=NOW) is None
    assert round_.grade_counts() == {"again": 0, "hard": 4, "good": 0, "easy": 0}


def test_words_of_a_list_taken_away_mid_round_are_dropped(alice, alice_words):
    round_ = review_round_start(learner=alice, now=NOW)
    Assignment.objects.filter(learner=alice).delete()
    assert review_round_card(learner=alice, review_round=round_, now=NOW) is None
    assert round_.word_ids == []


def test_the_round_survives_the_session_as_json_and_rejects_junk(alice, alice_words):
    round_ = ReviewRound(word_ids=[3, 1, 2], started_at=NOW.timestamp(), grades={1: "good"})
    assert ReviewRound.from_session(round_.to_session()) == round_
    for junk in [
        None,
        "x",
        {"words": "1", "grades": [], "started": 1.0},
        {"words": [1], "grades": [[2, "good"]], "started": 1.0},
        {"words": [1], "grades": [[1, "perfect"]], "started": 1.0},
        {"words": [1], "grades": []},
        {"words": [1], "grades": [], "started": "yesterday"},
    ]:
        assert ReviewRound.from_session(junk) is None


def test_a_round_goes_stale_after_six_hours():
    round_ = ReviewRound(word_ids=[1], started_at=NOW.timestamp())
    assert not round_.is_stale(NOW + dt.timedelta(hours=5, minutes=59))
    assert round_.is_stale(NOW + dt.timedelta(hours=6, minutes=1))
    assert round_.is_stale(NOW - dt.timedelta(hours=1))  # a clock that went back


def test_the_grade_buttons_tell_when_the_word_comes_back(alice, alice_words):
    assert [(c.grade, c.key, c.when) for c in grade_choices(learner=alice, progress=None, now=NOW)] == [
        ("again", "1", "1 min"),
        ("hard", "2", "6 min"),
        ("good", "3", "10 min"),
        ("easy", "4", "8 d"),
    ]
    gato = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=gato, rating=3, now=NOW - dt.timedelta(days=3))
    word_practice_record(learner=alice, word=gato, rating=3, now=NOW - dt.timedelta(days=3, minutes=-10))
    progress = WordProgress.objects.get(learner=alice, word=gato)
    assert [c.when for c in grade_choices(learner=alice, progress=progress, now=NOW)] == [
        "10 min", "8 d", "11 d", "19 d"
    ]


def test_the_interval_a_button_shows_is_the_one_the_word_gets(alice, alice_words):
    gato = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=gato, rating=3, now=NOW - dt.timedelta(days=3))
    progress = WordProgress.objects.get(learner=alice, word=gato)
    for choice in grade_choices(learner=alice, progress=progress, now=NOW):
        with transaction.atomic():
            after = word_practice_record(learner=alice, word=gato, rating=int(choice.key), now=NOW)
            assert after.due_at - NOW == choice.interval, choice.grade
            transaction.set_rollback(True)


def test_a_learner_with_a_higher_desired_retention_sees_words_sooner(alice, alice_words):
    gato = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=gato, rating=3, now=NOW - dt.timedelta(days=3))
    word_practice_record(learner=alice, word=gato, rating=3, now=NOW - dt.timedelta(days=3, minutes=-10))
    progress = WordProgress.objects.get(learner=alice, word=gato)
    usual = grade_choices(learner=alice, progress=progress, now=NOW)
    alice.desired_retention = 0.97
    keen = grade_choices(learner=alice, progress=progress, now=NOW)
    assert keen[2].interval < usual[2].interval
    assert [c.when for c in keen] == ["10 min", "2 d", "2 d", "4 d"]


def test_it_finds_only_words_of_assigned_lists(alice, bob, alice_words):
    gato = alice_words.words.get(term="gato")
    assert review_word_get(learner=alice, word_id=gato.pk) == gato
    with pytest.raises(Http404):
        review_word_get(learner=bob, word_id=gato.pk)
