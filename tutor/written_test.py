"""Written tests: a short test over due and weak words, graded on the server.

A test has up to ``TEST_SIZE`` questions, each about one word of the learner's assigned
lists, of two kinds:

- ``typed``: the meaning is shown and the learner types the word;
- ``choice``: the meaning is shown and the learner picks the word among four terms from
  their lists (distractors come from the word's own list when it has enough words).

Words are taken in this order: due, then weak (missed or hesitant, not mastered), then
other words being learnt (most recently practised first), then new words, then mastered
ones. Given the same data and seed, ``written_test_build`` gives the same questions.

The question set is fixed when the test is built and kept on the server (``WrittenTestSheet``,
keyed by the test's one-off nonce, in the database so any process can grade it). The form
carries only the nonce, signed with ``django.core.signing``, and numbers a choice's options
1 to 4: nothing on the page or in the token tells which answer is right. A learner can only be
graded on the questions they were given, and only once per test.

Typed answers are compared by ``text_fold``: surrounding spaces and punctuation are
dropped, inner spaces collapsed, case ignored and accents on Latin letters ignored, so
"  Pajaro! " is the same as "pájaro". Any word of the learner's lists with the same
meaning is accepted too. A choice is right when the chosen term folds to the answer's.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction

from common import clock
from common.text import text_fold
from tutor import srs
from tutor.models import Review, TestResult, Word, WordProgress, WrittenTestSheet
from tutor.practice import word_practice_record
from tutor.progress import WordState, learner_words

TEST_SIZE = 8
MIN_WORDS = 4
CHOICES = 4
TOKEN_SALT = "tutor.written-test"
TOKEN_MAX_AGE_SECONDS = 3 * 60 * 60
TOKEN_VERSION = 2

TYPED = "typed"
CHOICE = "choice"


class WrittenTestInvalid(Exception):
    """A submitted test that cannot be graded; the message is for the learner."""


@dataclass(frozen=True)
class Question:
    number: int
    word: Word
    kind: str
    options: tuple[Word, ...] = ()

    @property
    def field_name(self) -> str:
        return f"answer_{self.number}"


@dataclass(frozen=True)
class WrittenTest:
    nonce: str
    questions: tuple[Question, ...]

    def token(self, *, learner, salt: str = TOKEN_SALT) -> str:
        """Keep the questions on the server and return the form's token: the signed nonce."""
        now = clock.now()
        WrittenTestSheet.objects.filter(
            created_at__lt=now - dt.timedelta(seconds=TOKEN_MAX_AGE_SECONDS)
        ).delete()
        sheet, _ = WrittenTestSheet.objects.get_or_create(
            nonce=self.nonce,
            defaults={
                "learner": learner,
                "created_at": now,
                "questions": [[q.word.pk, q.kind, [o.pk for o in q.options]] for q in self.questions],
            },
        )
        if sheet.learner_id != learner.pk:
            raise ValueError("This nonce belongs to another learner's test.")
        return signing.dumps({"v": TOKEN_VERSION, "n": self.nonce}, salt=salt)


# --- comparing answers --------------------------------------------------------


# --- building a test ----------------------------------------------------------


def _ranked_words(states: list[WordState], now: dt.datetime) -> list[Word]:
    """The learner's words, best to test first (see the module docstring)."""
    tiers: list[list[tuple[Any, Word]]] = [[], [], [], [], []]
    for index, state in enumerate(states):
        progress = state.progress
        if progress is None or progress.is_new:
            tiers[3].append(((index,), state.word))
        elif progress.is_due(now):
            tiers[0].append(((progress.due_at, state.word.pk), state.word))
        elif progress.is_mastered:
            tiers[4].append(((progress.due_at, state.word.pk), state.word))
        elif progress.last_result in (WordProgress.Result.INCORRECT, WordProgress.Result.HESITANT) or (
            progress.incorrect_count > 0
        ):
            tiers[1].append(
                ((-(progress.difficulty or 0), -progress.incorrect_count, state.word.pk), state.word)
            )
        else:
            tiers[2].append(((-progress.last_reviewed_at.timestamp(), state.word.pk), state.word))
    return [word for tier in tiers for _, word in sorted(tier, key=lambda pair: pair[0])]


def choice_distractors(word: Word, words: list[Word], rng: random.Random) -> list[Word]:
    answer, meaning = text_fold(word.term), text_fold(word.meaning)

    def usable(other: Word) -> bool:
        return text_fold(other.term) != answer and text_fold(other.meaning) != meaning

    candidates: list[Word] = []
    seen_terms: set[str] = set()
    same_list_first = sorted(words, key=lambda other: (other.word_list_id != word.word_list_id, other.pk))
    for other in same_list_first:
        if other.pk != word.pk and usable(other) and text_fold(other.term) not in seen_terms:
            seen_terms.add(text_fold(other.term))
            candidates.append(other)
    same_list = [other for other in candidates if other.word_list_id == word.word_list_id]
    pool = same_list if len(same_list) >= CHOICES - 1 else candidates
    if len(pool) < CHOICES - 1:
        return []
    return rng.sample(pool, CHOICES - 1)


def written_test_build(
    *, learner, now: dt.datetime, seed: int, size: int = TEST_SIZE, nonce: str | None = None
) -> WrittenTest | None:
    """A new test for the learner, or None when their lists have fewer than ``MIN_WORDS`` words.

    Deterministic for a given seed and data: which words, their order, the kind of each
    question, the distractors and the order of the choices.
    """
    states = learner_words(learner=learner)
    words: list[Word] = []
    terms: set[str] = set()
    for word in _ranked_words(states, now):
        if text_fold(word.term) and text_fold(word.term) not in terms:
            terms.add(text_fold(word.term))
            words.append(word)
    if len(words) < MIN_WORDS:
        return None
    chosen = words[:size]
    rng = random.Random(seed)
    rng.shuffle(chosen)
    kinds = [TYPED, CHOICE] * ((len(chosen) + 1) // 2)
    kinds = kinds[: len(chosen)]
    rng.shuffle(kinds)
    all_words = [state.word for state in states]
    questions = []
    for number, (word, kind) in enumerate(zip(chosen, kinds, strict=True), start=1):
        options: tuple[Word, ...] = ()
        if kind == CHOICE:
            distractors = choice_distractors(word, all_words, rng)
            if distractors:
                shuffled = [word, *distractors]
                rng.shuffle(shuffled)
                options = tuple(shuffled)
            else:
                kind = TYPED
        questions.append(Question(number=number, word=word, kind=kind, options=options))
    return WrittenTest(nonce=nonce or secrets.token_hex(8), questions=tuple(questions))


# --- loading a submitted test --------------------------------------------------


def _payload_questions(payload: Any, learner) -> tuple[str, list[tuple[int, str, list[int]]]]:
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise WrittenTestInvalid("This test could not be read. Please take a new one.")
    if payload.get("l") != learner.pk:
        raise WrittenTestInvalid("This test was made for someone else. Please take a new one.")
    nonce, questions = payload.get("n"), payload.get("q")
    if not isinstance(nonce, str) or not isinstance(questions, list) or not questions:
        raise WrittenTestInvalid("This test could not be read. Please take a new one.")
    parsed = []
    for question in questions:
        if not (
            isinstance(question, list)
            and len(question) == 3
            and isinstance(question[0], int)
            and question[1] in (TYPED, CHOICE)
            and isinstance(question[2], list)
            and all(isinstance(option, int) for option in question[2])
        ):
            raise WrittenTestInvalid("This test could not be read. Please take a new one.")
        parsed.append((question[0], question[1], question[2]))
    return nonce, parsed


def _sheet_payload(*, token: str, max_age: int, salt: str = TOKEN_SALT) -> dict:
    """The stored question set the signed ``token`` names, as ``_payload_questions`` reads it."""
    old = WrittenTestInvalid("This test is more than three hours old. Please take a new one.")
    try:
        signed = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise old from None
    except signing.BadSignature:
        raise WrittenTestInvalid("This test could not be checked. Please take a new one.") from None
    if not isinstance(signed, dict) or signed.get("v") != TOKEN_VERSION or not isinstance(signed.get("n"), str):
        raise WrittenTestInvalid("This test could not be read. Please take a new one.")
    sheet = WrittenTestSheet.objects.filter(nonce=signed["n"]).first()
    if sheet is None:
        raise WrittenTestInvalid("This test could not be found. Please take a new one.")
    if sheet.created_at < clock.now() - dt.timedelta(seconds=max_age):
        raise old
    return {"v": TOKEN_VERSION, "l": sheet.learner_id, "n": sheet.nonce, "q": sheet.questions}


def written_test_load(
    *,
    learner,
    token: str,
    max_age: int = TOKEN_MAX_AGE_SECONDS,
    salt: str = TOKEN_SALT,
    words=None,
) -> WrittenTest:
    """The test a form was given, checked: signed by us (with ``salt``), for this learner, on
    ``words`` (by default the words of their lists)."""
    payload = _sheet_payload(token=token, max_age=max_age, salt=salt)
    nonce, parsed = _payload_questions(payload, learner)
    ids = {word_id for word_id, _, options in parsed for word_id in (word_id, *options)}
    if words is None:
        words = Word.objects.filter(word_list__assignments__learner=learner)
    words = (
        words.filter(pk__in=ids)
        .select_related("word_list")
        .in_bulk()
    )
    if set(words) != ids:
        raise WrittenTestInvalid("Your word lists changed since this test was made. Please take a new one.")
    questions = tuple(
        Question(number=number, word=words[word_id], kind=kind, options=tuple(words[o] for o in options))
        for number, (word_id, kind, options) in enumerate(parsed, start=1)
    )
    return WrittenTest(nonce=nonce, questions=questions)


# --- grading ------------------------------------------------------------------


def _accepted_terms(question: Question, words: list[Word]) -> set[str]:
    """The answer, plus any word of the learner's lists with the same meaning."""
    meaning = text_fold(question.word.meaning)
    accepted = {text_fold(question.word.term)}
    accepted.update(text_fold(word.term) for word in words if text_fold(word.meaning) == meaning)
    return accepted


def answer_check(*, question: Question, given: str, words: list[Word]) -> tuple[bool, str]:
    """Whether ``given`` answers ``question``, and the answer as the learner gave it."""
    if question.kind == CHOICE:
        chosen = next((option for option in question.options if str(option.pk) == given.strip()), None)
        if chosen is None:
            return False, ""
        return text_fold(chosen.term) == text_fold(question.word.term), chosen.term
    given = " ".join(given.split())
    return bool(given) and text_fold(given) in _accepted_terms(question, words), given


class AlreadyGraded(Exception):
    """The test was graded before: ``result`` is that grade."""

    def __init__(self, result: TestResult | None) -> None:
        super().__init__("already graded")
        self.result = result


def _graded_result(*, learner, test: WrittenTest) -> TestResult | None:
    return TestResult.objects.filter(learner=learner, test_nonce=test.nonce[:64]).first()


@transaction.atomic
def written_test_grade(
    *, learner, test: WrittenTest, answers: dict[int, str], now: dt.datetime
) -> TestResult:
    """Grade the answers (by question number), record each word's practice and store the result.

    Once per test, whatever the number of submissions and processes: the result's
    ``(learner, test_nonce)`` is unique, so a second grading fails and everything it wrote
    rolls back. Raises ``AlreadyGraded``.
    """
    earlier = _graded_result(learner=learner, test=test)
    if earlier is not None:
        raise AlreadyGraded(earlier)
    words = list(Word.objects.filter(word_list__assignments__learner=learner))
    details = []
    score = 0
    for question in test.questions:
        correct, given = answer_check(question=question, given=answers.get(question.number, ""), words=words)
        score += correct
        # One rating per answer: right is Good, wrong or blank is Again.
        word_practice_record(
            learner=learner,
            word=question.word,
            rating=srs.Rating.Good if correct else srs.Rating.Again,
            source=Review.Source.TEST,
            now=now,
        )
        details.append(
            {
                "word_id": question.word.pk,
                "term": question.word.term,
                "prompt": question.word.meaning,
                "kind": question.kind,
                "expected": question.word.term,
                "given": given,
                "correct": correct,
            }
        )
    lists = {question.word.word_list_id for question in test.questions}
    try:
        with transaction.atomic():
            return TestResult.objects.create(
                learner=learner,
                word_list=test.questions[0].word.word_list if len(lists) == 1 else None,
                taken_at=now,
                score=score,
                max_score=len(test.questions),
                details=details,
                source=TestResult.Source.WRITTEN,
                test_nonce=test.nonce[:64],
            )
    except IntegrityError:
        # Another submission of this test was graded meanwhile: this one's practice is undone.
        raise AlreadyGraded(None) from None


# --- reading a result -----------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    term: str
    prompt: str
    expected: str
    given: str
    correct: bool


def result_answers(*, result: TestResult) -> list[Answer]:
    """A result's per-word details, read leniently: voice quizzes write them too."""
    answers = []
    for item in result.details if isinstance(result.details, list) else []:
        if not isinstance(item, dict):
            continue

        def text(key: str) -> str:
            value = item.get(key)
            return value if isinstance(value, str) else ""

        term = text("term") or text("expected")
        answers.append(
            Answer(
                term=term,
                prompt=text("prompt"),
                expected=text("expected") or term,
                given=text("given"),
                correct=item.get("correct") is True,
            )
        )
    return answers
