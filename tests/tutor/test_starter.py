"""Starter lists shipped with the project, and a learner's own imported list."""

import csv
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tutor.models import Assignment, Word, WordList
from tutor.starter import (
    STARTER_DIR,
    STARTER_LANGUAGES,
    StarterListMissing,
    own_list_import,
    starter_list_assign,
    starter_list_name,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["es", "fr", "de"])
def test_each_starter_file_has_over_a_hundred_words_with_meanings(language):
    rows = list(csv.DictReader((STARTER_DIR / f"{language}.csv").open(encoding="utf-8")))
    assert len(rows) >= 100
    assert all(row["term"].strip() and row["meaning"].strip() for row in rows)
    assert sum(bool(row["example"].strip()) for row in rows) >= 100


@pytest.mark.parametrize("language", STARTER_LANGUAGES)
def test_a_starter_list_imports_whole_through_the_importer(alice, language):
    alice.target_language = language
    word_list = starter_list_assign(learner=alice, language=language)
    rows = list(csv.DictReader((STARTER_DIR / f"{language}.csv").open(encoding="utf-8")))
    assert word_list.words.count() == len(rows)  # no row refused, none folded into another
    assert word_list.language == language and word_list.owner is None
    assert list(word_list.words.order_by("position").values_list("term", flat=True)[:1]) == [rows[0]["term"]]


def test_the_starter_list_is_created_once_and_shared(alice, bob):
    first = starter_list_assign(learner=alice, language="es")
    again = starter_list_assign(learner=alice, language="es")
    second = starter_list_assign(learner=bob, language="es")
    assert first.pk == again.pk == second.pk
    assert WordList.objects.filter(name=starter_list_name("es")).count() == 1
    assert Assignment.objects.filter(word_list=first).count() == 2


def test_there_is_no_starter_list_for_other_languages(alice):
    with pytest.raises(StarterListMissing, match="no starter list for Japanese"):
        starter_list_assign(learner=alice, language="ja")
    assert not WordList.objects.exists()


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("words.csv", text.encode(), content_type="text/csv")


def test_a_learners_own_list_is_theirs_and_assigned_to_them_only(alice, bob):
    report = own_list_import(learner=alice, name="Kitchen", upload=csv_upload("term,meaning\nolla,pot\nsartén,pan\n"))
    assert report.ok, report.errors
    kitchen = report.word_list
    assert kitchen.owner == alice and kitchen.language == alice.target_language
    assert list(kitchen.learners.all()) == [alice]
    assert not bob.word_lists.exists()


def test_two_learners_lists_of_the_same_name_are_two_lists(alice, bob):
    own_list_import(learner=alice, name="Kitchen", upload=csv_upload("term,meaning\nolla,pot\n"))
    report = own_list_import(learner=bob, name="kitchen", upload=csv_upload("term,meaning\ntaza,cup\n"))
    assert report.ok and report.list_created
    assert [w.term for w in Word.objects.filter(word_list__owner=alice)] == ["olla"]
    assert [w.term for w in Word.objects.filter(word_list__owner=bob)] == ["taza"]


def test_a_learner_cannot_write_into_a_staff_list_by_naming_it(alice, spanish):
    report = own_list_import(learner=alice, name=spanish.name, upload=csv_upload("term,meaning\ngato,NOT A CAT\n"))
    assert report.ok and report.word_list != spanish and report.word_list.owner == alice
    assert spanish.words.get(term="gato").meaning == "cat"


def test_a_bad_row_imports_nothing_and_says_which_rows(alice):
    report = own_list_import(
        learner=alice, name="Broken", upload=csv_upload("term,meaning\nolla,pot\n,no term\ntaza,\n")
    )
    assert not report.ok
    assert [str(error) for error in report.errors] == ["Row 3: term is blank.", "Row 4: meaning is blank."]
    assert not WordList.objects.filter(name="Broken").exists() and not alice.assignments.exists()


@pytest.mark.django_db(transaction=True)
def test_learners_picking_the_starter_list_at_once_share_one(alice, bob):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    errors = []

    def pick(learner):
        try:
            starter_list_assign(learner=learner, language="fr")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pick, args=(learner,)) for learner in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert WordList.objects.filter(name=starter_list_name("fr")).count() == 1
