"""The placement: ten questions that set a new learner's level, on the written-test machinery.

The questions come from the starter list of the learner's target language
(``tutor/starter.py``): ten words spread evenly over it (leaving out words spelt like their
English meaning, such as "train", which test nothing), in list order, half "type the word
for this meaning" and half multiple choice, built, signed, stored and checked exactly as a written test is
(``tutor/written_test.py``, with a salt of its own, so neither token is accepted for the
other). Answers are compared by the same rule (``text_fold``).

The placement is not practice: it writes no reviews and no test result. It only sets the
learner's CEFR level, from the number of right answers (``LEVELS``). A hundred common
words cannot tell C1 from B2, so the placement places at most at B2; the learner (or their
teacher) can set a higher level by hand. It is graded once: its stored question set is
deleted as it is graded.
"""

from __future__ import annotations

import random
import secrets

from django.db import transaction

from accounts.models import CefrLevel
from common.text import text_fold
from tutor.models import Word, WrittenTestSheet
from tutor.starter import starter_list_get_or_create
from tutor.written_test import (
    CHOICE,
    TYPED,
    Question,
    WrittenTest,
    WrittenTestInvalid,
    answer_check,
    choice_distractors,
    written_test_load,
)

PLACEMENT_SIZE = 10
PLACEMENT_SALT = "tutor.placement"
# (most right answers, level): 0-3 A1, 4-6 A2, 7-8 B1, 9-10 B2.
LEVELS = ((3, CefrLevel.A1), (6, CefrLevel.A2), (8, CefrLevel.B1), (PLACEMENT_SIZE, CefrLevel.B2))


def placement_words(*, language: str):
    """The words a placement in ``language`` may ask about (raises ``StarterListMissing``)."""
    return Word.objects.filter(word_list=starter_list_get_or_create(language=language))


def placement_build(*, learner, seed: int) -> WrittenTest:
    """Ten questions from the starter list of the learner's target language, in list order."""
    words = list(placement_words(language=learner.target_language).order_by("position", "pk"))
    telling = [word for word in words if not _spelt_like_its_meaning(word)]
    step = len(telling) / PLACEMENT_SIZE
    chosen = [telling[int(step * index + step / 2)] for index in range(PLACEMENT_SIZE)]
    rng = random.Random(seed)
    kinds = [TYPED, CHOICE] * (PLACEMENT_SIZE // 2)
    rng.shuffle(kinds)
    questions = []
    for number, (word, kind) in enumerate(zip(chosen, kinds, strict=True), start=1):
        options: tuple[Word, ...] = ()
        if kind == CHOICE:
            distractors = choice_distractors(word, words, rng)
            options = tuple(rng.sample([word, *distractors], len(distractors) + 1))
            kind = CHOICE if distractors else TYPED
        questions.append(Question(number=number, word=word, kind=kind, options=options))
    return WrittenTest(nonce=secrets.token_hex(8), questions=tuple(questions))


def _spelt_like_its_meaning(word: Word) -> bool:
    term = text_fold(word.term)
    return any(text_fold(meaning) == term for meaning in word.meaning.split("/"))


def placement_token(*, learner, test: WrittenTest) -> str:
    return test.token(learner=learner, salt=PLACEMENT_SALT)


def placement_load(*, learner, token: str) -> WrittenTest:
    """The placement a form was given, checked as a written test is; raises ``WrittenTestInvalid``."""
    return written_test_load(
        learner=learner,
        token=token,
        salt=PLACEMENT_SALT,
        words=placement_words(language=learner.target_language),
    )


def level_for(score: int) -> str:
    return next(level for most, level in LEVELS if score <= most)


@transaction.atomic
def placement_grade(*, learner, test: WrittenTest, answers: dict[int, str]) -> tuple[int, str]:
    """Score the answers, set the learner's level from the score; once per placement.

    Returns (right answers, level). Raises ``WrittenTestInvalid`` when it was graded before.
    """
    deleted, _ = WrittenTestSheet.objects.filter(nonce=test.nonce, learner=learner).delete()
    if not deleted:
        raise WrittenTestInvalid("This placement was already graded. Your level is on your account page.")
    words = list(placement_words(language=learner.target_language))
    score = sum(
        answer_check(question=question, given=answers.get(question.number, ""), words=words)[0]
        for question in test.questions
    )
    learner.cefr_level = level_for(score)
    learner.save(update_fields=["cefr_level"])
    return score, learner.cefr_level
