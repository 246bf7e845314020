import datetime as dt

from unittest import mock

import pytest
from django.core import signing

from common import clock
from tutor.models import Assignment, Review, TestResult, Word, WordList, WordProgress, WrittenTestSheet
from tutor.written_test import (
    AlreadyGraded,
    CHOICE,
    TOKEN_SALT,
    TYPED,
    WrittenTestInvalid,
    answer_check,
    text_fold,
    written_test_build,
    written_test_grade,
    written_test_load,
)

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)

VOCABULARY = [
    ("gato", "cat"),
    ("perro", "dog"),
    ("casa", "house"),
    ("agua", "water"),
    ("pájaro", "bird"),
    ("árbol", "tree"),
    ("niño", "child"),
    ("libro", "book"),
    ("mesa", "table"),
    ("silla", "chair"),
]


@pytest.fixture
def animals(alice):
    word_list = WordList.objects.create(name="Everyday", language="es")
    for position, (term, meaning) in enumerate(VOCABULARY):
        Word.objects.create(word_list=word_list, term=term, meaning=meaning, position=position)
    Assignment.objects.create(learner=alice, word_list=word_list)
    return word_list


def shape(test):
    return [(q.word.term, q.kind, [o.term for o in q.options]) for q in test.questions]


def progress(learner, term, *, due_in_days, **fields):
    values = {"repetitions": 2, "interval_days": 6, "last_reviewed_at": NOW - dt.timedelta(days=3), **fields}
    return WordProgress.objects.create(
        learner=learner, word=Word.objects.get(term=term), due_at=NOW + dt.timedelta(days=due_in_days), **values
    )


# --- comparing answers ------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("  Pájaro ", "pajaro"),
        ("PAJARO", "pajaro"),
        ("¡Pájaro!", "pajaro"),
        ("el   niño", "el nino"),
        ("Straße", "strasse"),
        ("がっこう", "がっこう"),
    ],
)
def test_text_fold_ignores_case_accents_spaces_and_outer_punctuation(given, expected):
    assert text_fold(given) == expected


def test_japanese_voicing_marks_still_count():
    assert text_fold("が") != text_fold("か")


# --- building ---------------------------------------------------------------


def test_the_same_seed_gives_the_same_test(alice, animals):
    first = written_test_build(learner=alice, now=NOW, seed=42)
    second = written_test_build(learner=alice, now=NOW, seed=42)
    assert shape(first) == shape(second)
    assert first.nonce != second.nonce


def test_another_seed_gives_another_order_or_mix(alice, animals):
    shapes = {repr(shape(written_test_build(learner=alice, now=NOW, seed=seed))) for seed in range(6)}
    assert len(shapes) > 1


def test_it_asks_eight_questions_half_typed_half_multiple_choice(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=7)
    kinds = [q.kind for q in test.questions]
    assert len(kinds) == 8
    assert kinds.count(TYPED) == 4 and kinds.count(CHOICE) == 4
    assert [q.number for q in test.questions] == list(range(1, 9))
    assert len({q.word.pk for q in test.questions}) == 8


def test_choices_have_the_answer_and_three_distinct_distractors_from_the_lists(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=3)
    for question in test.questions:
        if question.kind == CHOICE:
            terms = [option.term for option in question.options]
            assert len(terms) == 4 and len(set(terms)) == 4
            assert question.word in question.options
            assert all(option.word_list == animals for option in question.options)


def test_due_and_weak_words_come_before_others(alice, animals):
    progress(alice, "silla", due_in_days=-1)
    progress(alice, "mesa", due_in_days=+3, last_result="incorrect", incorrect_count=2, difficulty=8.0)
    for term in ["gato", "perro", "casa", "agua", "pájaro", "árbol", "niño", "libro"]:
        progress(alice, term, due_in_days=+30, interval_days=30)  # mastered, not due
    test = written_test_build(learner=alice, now=NOW, seed=1, size=2)
    assert {q.word.term for q in test.questions} == {"silla", "mesa"}


def test_not_enough_words_gives_no_test(alice, bob, alice_words):
    assert written_test_build(learner=bob, now=NOW, seed=1) is None
    Word.objects.filter(term="agua").delete()
    assert written_test_build(learner=alice, now=NOW, seed=1) is None


def test_a_small_list_gets_typed_questions_when_there_are_too_few_distractors(alice, alice_words):
    test = written_test_build(learner=alice, now=NOW, seed=5)
    assert len(test.questions) == 4
    for question in test.questions:
        assert question.kind == TYPED or len(question.options) == 4


def test_words_sharing_a_meaning_are_not_offered_as_distractors(alice, animals):
    Word.objects.create(word_list=animals, term="hogar", meaning="house", position=99)
    for seed in range(10):
        for question in written_test_build(learner=alice, now=NOW, seed=seed, size=10).questions:
            if question.kind == CHOICE and question.word.meaning == "house":
                assert {"casa", "hogar"} - {o.term for o in question.options}


# --- the signed question set --------------------------------------------------


def test_a_token_loads_back_the_same_questions(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=9)
    loaded = written_test_load(learner=alice, token=test.token(learner=alice))
    assert shape(loaded) == shape(test) and loaded.nonce == test.nonce


def test_a_tampered_token_is_refused(alice, animals):
    token = written_test_build(learner=alice, now=NOW, seed=9).token(learner=alice)
    payload = signing.loads(token, salt=TOKEN_SALT)
    forged = signing.dumps(payload, salt="some.other.salt", compress=True)
    for bad in [token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "", "nonsense"]:
        with pytest.raises(WrittenTestInvalid):
            written_test_load(learner=alice, token=bad)


def test_another_learners_token_is_refused(alice, bob, animals):
    Assignment.objects.create(learner=bob, word_list=animals)
    token = written_test_build(learner=alice, now=NOW, seed=9).token(learner=alice)
    with pytest.raises(WrittenTestInvalid, match="someone else"):
        written_test_load(learner=bob, token=token)


def stored_token(learner, questions, nonce: str = "abc") -> str:
    """A token for a question set stored as given (``token()`` stores only built ones)."""
    WrittenTestSheet.objects.create(nonce=nonce, learner=learner, questions=questions, created_at=clock.now())
    return signing.dumps({"v": 2, "n": nonce}, salt=TOKEN_SALT)


def test_the_token_holds_no_question(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=9)
    assert signing.loads(test.token(learner=alice), salt=TOKEN_SALT) == {"v": 2, "n": test.nonce}


def test_a_token_of_a_test_never_stored_is_refused(alice, animals):
    with pytest.raises(WrittenTestInvalid, match="could not be found"):
        written_test_load(learner=alice, token=signing.dumps({"v": 2, "n": "f" * 16}, salt=TOKEN_SALT))


def test_an_old_style_token_listing_the_questions_is_refused(alice, animals):
    word = animals.words.first()
    payload = {"v": 1, "l": alice.pk, "n": "abc", "q": [[word.pk, TYPED, []]]}
    with pytest.raises(WrittenTestInvalid):
        written_test_load(learner=alice, token=signing.dumps(payload, salt=TOKEN_SALT, compress=True))


def test_a_token_naming_words_outside_the_lists_is_refused(alice, animals):
    other = WordList.objects.create(name="Other", language="es")
    zorro = Word.objects.create(word_list=other, term="zorro", meaning="fox")
    with pytest.raises(WrittenTestInvalid, match="changed"):
        written_test_load(learner=alice, token=stored_token(alice, [[zorro.pk, TYPED, []]]))


@pytest.mark.parametrize(
    "questions",
    [[], "x", [[1, "essay", []]], [["1", TYPED, []]], [[1, TYPED]], [[1, CHOICE, ["2"]]]],
)
def test_a_malformed_stored_question_set_is_refused(alice, animals, questions):
    with pytest.raises(WrittenTestInvalid):
        written_test_load(learner=alice, token=stored_token(alice, questions))


def test_an_old_token_is_refused(alice, animals):
    token = written_test_build(learner=alice, now=NOW, seed=9).token(learner=alice)
    with pytest.raises(WrittenTestInvalid, match="old"):
        written_test_load(learner=alice, token=token, max_age=-1)


# --- grading ----------------------------------------------------------------


def question_for(test, kind):
    return next(q for q in test.questions if q.kind == kind)


def test_typed_answers_ignore_case_accents_and_spaces(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=2, size=10)
    pajaro = next(q for q in test.questions if q.word.term == "pájaro")
    pajaro = type(pajaro)(number=1, word=pajaro.word, kind=TYPED)
    words = list(animals.words.all())
    assert answer_check(question=pajaro, given="  PAJARO ", words=words) == (True, "PAJARO")
    assert answer_check(question=pajaro, given="pájaros", words=words)[0] is False
    assert answer_check(question=pajaro, given="", words=words) == (False, "")


def test_a_typed_word_with_the_same_meaning_counts(alice, animals):
    hogar = Word.objects.create(word_list=animals, term="hogar", meaning="house", position=99)
    question = next(
        q for q in written_test_build(learner=alice, now=NOW, seed=2, size=11).questions if q.word == hogar
    )
    question = type(question)(number=1, word=hogar, kind=TYPED)
    assert answer_check(question=question, given="casa", words=list(animals.words.all()))[0]


def test_a_choice_must_be_one_of_the_options(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=2)
    question = question_for(test, CHOICE)
    wrong = next(o for o in question.options if o != question.word)
    outside = Word.objects.exclude(pk__in=[o.pk for o in question.options]).first()
    assert answer_check(question=question, given=str(question.word.pk), words=[]) == (True, question.word.term)
    assert answer_check(question=question, given=str(wrong.pk), words=[]) == (False, wrong.term)
    assert answer_check(question=question, given=str(outside.pk), words=[]) == (False, "")


def test_a_test_is_graded_once_and_a_second_grading_writes_nothing(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=11)
    first = written_test_grade(learner=alice, test=test, answers={}, now=NOW)
    with pytest.raises(AlreadyGraded) as again:
        written_test_grade(learner=alice, test=test, answers={}, now=NOW)
    assert again.value.result == first
    assert TestResult.objects.filter(learner=alice).count() == 1
    assert Review.objects.filter(learner=alice).count() == len(test.questions)


def test_the_database_refuses_a_second_result_for_the_same_test(alice, animals):
    # Two submissions in flight at once both pass the first check; the constraint decides.
    test = written_test_build(learner=alice, now=NOW, seed=11)
    TestResult.objects.create(learner=alice, score=0, max_score=1, test_nonce=test.nonce)
    with pytest.raises(AlreadyGraded) as lost:
        with mock.patch("tutor.written_test._graded_result", return_value=None):
            written_test_grade(learner=alice, test=test, answers={}, now=NOW)
    assert lost.value.result is None
    assert Review.objects.filter(learner=alice).count() == 0  # its practice was rolled back


def test_grading_stores_the_result_with_details_and_records_each_word(alice, animals):
    test = written_test_build(learner=alice, now=NOW, seed=11)
    answers = {}
    for question in test.questions:
        answers[question.number] = str(question.word.pk) if question.kind == CHOICE else question.word.term.upper()
    missed = test.questions[0]
    answers[missed.number] = ""

    result = written_test_grade(learner=alice, test=test, answers=answers, now=NOW)

    assert (result.score, result.max_score, result.source) == (7, 8, TestResult.Source.WRITTEN)
    assert result.word_list == animals and result.taken_at == NOW
    first = result.details[0]
    assert first == {
        "word_id": missed.word.pk,
        "term": missed.word.term,
        "prompt": missed.word.meaning,
        "kind": missed.kind,
        "expected": missed.word.term,
        "given": "",
        "correct": False,
    }
    assert [d["correct"] for d in result.details].count(True) == 7
    reviews = Review.objects.filter(learner=alice, source=Review.Source.TEST)
    assert reviews.count() == 8
    assert WordProgress.objects.get(learner=alice, word=missed.word).last_result == "incorrect"
    assert WordProgress.objects.filter(learner=alice, last_result="correct").count() == 7


def test_a_test_over_several_lists_has_no_single_list(alice, animals):
    colours = WordList.objects.create(name="Colours", language="es")
    for term, meaning in [("rojo", "red"), ("azul", "blue"), ("verde", "green"), ("gato", "cat")]:
        Word.objects.create(word_list=colours, term=term, meaning=meaning)
    Assignment.objects.create(learner=alice, word_list=colours)
    test = written_test_build(learner=alice, now=NOW, seed=11, size=14)
    assert len(test.questions) == 13  # "gato" is in both lists: asked once
    assert len({q.word.word_list_id for q in test.questions}) == 2
    result = written_test_grade(learner=alice, test=test, answers={}, now=NOW)
    assert result.word_list is None and result.score == 0
