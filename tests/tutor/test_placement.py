"""The ten-question placement: built from the starter list, graded once, sets the level."""

import pytest

from tutor.models import Review, TestResult
from tutor.placement import (
    PLACEMENT_SIZE,
    _spelt_like_its_meaning,
    level_for,
    placement_build,
    placement_grade,
    placement_load,
    placement_token,
    placement_words,
)
from tutor.written_test import CHOICE, WrittenTestInvalid, written_test_load

pytestmark = pytest.mark.django_db


def right_answers(test, wrong: int = 0) -> dict[int, str]:
    answers = {}
    for question in test.questions:
        if question.number <= wrong:
            answers[question.number] = ""
        elif question.kind == CHOICE:
            answers[question.number] = str(question.word.pk)
        else:
            answers[question.number] = question.word.term
    return answers


def test_it_asks_ten_questions_spread_over_the_list_in_order(alice):
    test = placement_build(learner=alice, seed=1)
    assert len(test.questions) == PLACEMENT_SIZE
    positions = [question.word.position for question in test.questions]
    assert positions == sorted(positions) and positions[-1] - positions[0] > 80
    assert {question.kind for question in test.questions} == {"typed", "choice"}


@pytest.mark.parametrize(("score", "level"), [(0, "A1"), (3, "A1"), (4, "A2"), (6, "A2"), (7, "B1"), (9, "B2"), (10, "B2")])
def test_the_score_sets_the_level(score, level):
    assert level_for(score) == level


def test_grading_sets_the_level_and_writes_no_practice(alice):
    test = placement_build(learner=alice, seed=2)
    loaded = placement_load(learner=alice, token=placement_token(learner=alice, test=test))
    assert loaded.questions == test.questions
    score, level = placement_grade(learner=alice, test=loaded, answers=right_answers(loaded, wrong=2))
    alice.refresh_from_db()
    assert (score, level, alice.cefr_level) == (8, "B1", "B1")
    assert not Review.objects.exists() and not TestResult.objects.exists()


def test_a_placement_is_graded_once(alice):
    test = placement_build(learner=alice, seed=3)
    placement_token(learner=alice, test=test)
    placement_grade(learner=alice, test=test, answers={})
    with pytest.raises(WrittenTestInvalid, match="already graded"):
        placement_grade(learner=alice, test=test, answers=right_answers(test))
    alice.refresh_from_db()
    assert alice.cefr_level == "A1"


def test_a_placement_token_is_not_a_written_test_token_nor_another_learners(alice, bob):
    test = placement_build(learner=alice, seed=4)
    token = placement_token(learner=alice, test=test)
    with pytest.raises(WrittenTestInvalid):
        written_test_load(learner=alice, token=token)
    with pytest.raises(WrittenTestInvalid, match="someone else"):
        placement_load(learner=bob, token=token)


def test_words_spelt_like_their_meaning_are_not_asked(alice, bob):
    """French "train" means train: asking it tests nothing."""
    french = [w.term for w in placement_words(language="fr") if _spelt_like_its_meaning(w)]
    assert {"train", "table", "question"} <= set(french)
    bob.target_language = "fr"
    for seed in range(5):
        test = placement_build(learner=bob, seed=seed)
        assert not {q.word.term for q in test.questions} & set(french)
