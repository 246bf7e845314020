"""The tutor's material is served from the cache only while nothing it depends on changed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from tutor.material_cache import MAX_AGE_SECONDS, tutor_material_cached, word_lists_changed
from tutor.models import Assignment, TestResult, Word, WordList, WordProgress
from tutor.practice import word_practice_record
from tutor.vocabulary_import import word_list_import

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def material(learner, now=NOW):
    return tutor_material_cached(learner=learner, now=now, limit=12, revision_limit=2)


def terms(states):
    return [state.word.term for state in states]


def test_a_second_read_takes_no_query(alice, alice_words, django_assert_num_queries):
    first = material(alice)
    with django_assert_num_queries(0):
        again = material(alice)
    assert terms(again.new) == terms(first.new) == ["gato", "perro", "casa", "agua"]


def test_practice_changes_it_at_once(alice, alice_words):
    assert terms(material(alice).new)[0] == "gato"
    gato = alice_words.words.get(term="gato")
    word_practice_record(learner=alice, word=gato, outcome="incorrect", now=NOW)
    fresh = material(alice, NOW + dt.timedelta(seconds=1))
    assert "gato" not in terms(fresh.new)
    assert terms(fresh.weak) == ["gato"]


def test_a_new_grade_changes_it(alice, alice_words):
    assert material(alice).recent_results == []
    TestResult.objects.create(learner=alice, word_list=alice_words, score=3, max_score=10)
    assert [r.score for r in material(alice).recent_results] == [3]


def test_assigning_and_unassigning_a_list_changes_it(alice, spanish):
    assert terms(material(alice).new) == []
    assignment = Assignment.objects.create(learner=alice, word_list=spanish)
    assert terms(material(alice).new) == ["gato", "perro", "casa", "agua"]
    assignment.delete()
    assert terms(material(alice).new) == []
    spanish.learners.add(alice)  # through the relation: no save signal of its own
    assert len(material(alice).new) == 4


def test_editing_a_word_or_importing_words_changes_it(alice, alice_words):
    material(alice)
    gato = alice_words.words.get(term="gato")
    gato.meaning = "a small cat"
    gato.save()
    assert material(alice).new[0].word.meaning == "a small cat"
    # The import writes in bulk (no save signals) and says so itself.
    report = word_list_import(name=alice_words.name, rows_or_file="term,meaning\nabeja,bee\n")
    assert report.added == 1
    assert "abeja" in terms(material(alice).new)


def test_a_bulk_write_is_seen_once_its_writer_says_so(alice, alice_words):
    material(alice)
    Word.objects.bulk_create([Word(word_list=alice_words, term="aaa", meaning="x", position=0)])
    word_lists_changed()
    assert terms(material(alice).new)[0] == "aaa"


def test_a_write_rolled_back_keeps_it_and_one_committed_changes_it_once(alice, alice_words):
    before = terms(material(alice).new)
    gato = alice_words.words.get(term="gato")
    with pytest.raises(RuntimeError), transaction.atomic():
        word_practice_record(learner=alice, word=gato, outcome="correct", now=NOW)
        raise RuntimeError
    assert terms(material(alice).new) == before
    with transaction.atomic():
        word_practice_record(learner=alice, word=gato, outcome="correct", now=NOW)
        word_practice_record(learner=alice, word=gato, outcome="correct", now=NOW)
    assert "gato" not in terms(material(alice).new)


def test_a_word_falling_due_ends_the_cached_entry(alice, alice_words):
    gato = alice_words.words.get(term="gato")
    WordProgress.objects.create(
        learner=alice, word=gato, repetitions=1, interval_days=1, last_reviewed_at=NOW - dt.timedelta(days=1),
        due_at=NOW + dt.timedelta(minutes=1),
    )
    assert terms(material(alice).due) == []
    assert terms(material(alice, NOW + dt.timedelta(seconds=59)).due) == []
    assert terms(material(alice, NOW + dt.timedelta(minutes=1)).due) == ["gato"]


def test_an_entry_is_not_used_past_its_age_or_before_it_was_built(alice, alice_words, django_assert_num_queries):
    material(alice)
    with django_assert_num_queries(6):
        material(alice, NOW + dt.timedelta(seconds=MAX_AGE_SECONDS))
    with django_assert_num_queries(6):
        material(alice, NOW - dt.timedelta(seconds=1))


def test_learners_never_share_an_entry(alice, bob, alice_words):
    assert len(material(alice).new) == 4
    assert material(bob).new == []
    other = WordList.objects.create(name="Other", language="es")
    Word.objects.create(word_list=other, term="sol", meaning="sun", position=0)
    Assignment.objects.create(learner=bob, word_list=other)
    assert terms(material(bob).new) == ["sol"]
    assert "sol" not in terms(material(alice).new)
