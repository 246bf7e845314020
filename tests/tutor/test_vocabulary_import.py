"""word_list_import: CSV into a word list, all or nothing, every bad row reported."""

from __future__ import annotations

import io

import pytest

from tutor import vocabulary_import
from tutor.models import Word, WordList
from tutor.vocabulary_import import RowError, word_list_import

pytestmark = pytest.mark.django_db

GOOD = "term,meaning,example,part_of_speech\ngato,cat,El gato duerme.,noun\nperro,dog,,\ncomer,to eat,,Verb\n"


def words(word_list: WordList) -> list[tuple]:
    return list(
        word_list.words.order_by("position").values_list(
            "term", "meaning", "example", "part_of_speech", "position"
        )
    )


def snapshot() -> list[tuple]:
    return list(
        Word.objects.order_by("pk").values_list(
            "word_list__name", "term", "meaning", "example", "part_of_speech", "position"
        )
    )


def test_it_creates_a_list_from_csv_text(db):
    report = word_list_import(name="Animals", language="es", description="Pets", rows_or_file=GOOD)

    assert report.ok, report.errors
    assert (report.list_created, report.added, report.updated, report.unchanged) == (True, 3, 0, 0)
    word_list = WordList.objects.get(name="Animals")
    assert (word_list.language, word_list.description) == ("es", "Pets")
    assert words(word_list) == [
        ("gato", "cat", "El gato duerme.", "noun", 0),
        ("perro", "dog", "", "other", 1),
        ("comer", "to eat", "", "verb", 2),
    ]
    assert report.summary == "Created “Animals”: 3 added, 0 updated, 0 unchanged."


def test_it_reads_utf8_with_a_bom_and_semicolons_from_a_binary_file(db):
    data = "\ufeffTerm;Meaning;Part of speech\nniño;child;noun\nañoranza;longing, nostalgia;noun\n".encode()

    report = word_list_import(name="Ñ", language="es", rows_or_file=io.BytesIO(data))

    assert report.ok, report.errors
    assert [(t, m) for t, m, *_ in words(report.word_list)] == [
        ("niño", "child"),
        ("añoranza", "longing, nostalgia"),
    ]


def test_it_reads_quoted_commas_tabs_and_rows(db):
    tabbed = word_list_import(name="Tabs", language="fr", rows_or_file="term\tmeaning\nchat\tcat\n")
    quoted = word_list_import(
        name="Quoted",
        language="es",
        rows_or_file='term,meaning,example\nhola,hello,"Hola, ¿qué tal?"\n',
    )
    rows = word_list_import(
        name="Rows", language="de", rows_or_file=[["term", "meaning"], ["Hund", "dog"]]
    )

    assert tabbed.ok and quoted.ok and rows.ok
    assert words(tabbed.word_list)[0][:2] == ("chat", "cat")
    assert words(quoted.word_list)[0][2] == "Hola, ¿qué tal?"
    assert words(rows.word_list)[0][:2] == ("Hund", "dog")


def test_into_an_existing_list_it_adds_new_terms_and_updates_meanings(spanish):
    Word.objects.filter(word_list=spanish, term="gato").update(
        example="Un gato.", part_of_speech="noun"
    )
    csv_text = "term,meaning,example,part_of_speech\nGato,a cat,,\nperro,dog,,\nlibro,book,Un libro.,noun\n"

    report = word_list_import(name="spanish BASICS", language="es", rows_or_file=csv_text)

    assert report.ok, report.errors
    assert (report.list_created, report.added, report.updated, report.unchanged) == (False, 1, 1, 1)
    assert words(spanish) == [
        ("gato", "a cat", "Un gato.", "noun", 0),  # blank cells keep what was there
        ("perro", "dog", "", "other", 1),
        ("casa", "house", "", "other", 2),  # not in the file: kept
        ("agua", "water", "", "other", 3),
        ("libro", "book", "Un libro.", "noun", 4),
    ]


def test_an_existing_list_keeps_its_language_and_needs_no_language(spanish):
    assert word_list_import(name="Spanish basics", rows_or_file="term,meaning\nsol,sun\n").ok

    report = word_list_import(
        name="Spanish basics", language="fr", rows_or_file="term,meaning\nlune,moon\n"
    )

    assert [str(e) for e in report.errors] == [
        "The list “Spanish basics” is in Spanish, not French."
    ]
    assert not spanish.words.filter(term="lune").exists()


def test_it_reports_every_bad_row_and_writes_nothing(spanish):
    before = snapshot()
    csv_text = (
        "term,meaning,example,part_of_speech\n"
        "sol,sun,,noun\n"  # good
        ",moon,,noun\n"
        "estrella,,,\n"
        "nube,cloud,,thing\n"
        "SOL,sun again,,\n"
        "\n"
        "río,river,,noun,extra\n"
        f"{'x' * 121},long,,\n"
        "mar,sea,,noun\n"  # good
    )

    report = word_list_import(name="Spanish basics", language="es", rows_or_file=csv_text)

    assert not report.ok
    assert [str(e) for e in report.errors] == [
        "Row 3: term is blank.",
        "Row 4: meaning is blank.",
        "Row 5: unknown part of speech “thing” (use one of noun, verb, adjective, adverb, phrase, other, or leave it blank).",
        "Row 6: “SOL” is already on row 2.",
        "Row 8: 5 cells but the header has 4 columns.",
        "Row 9: term is longer than 120 characters.",
    ]
    assert report.summary == "Nothing was imported: 6 problems found."
    assert snapshot() == before


def test_a_bad_row_creates_no_list(db):
    report = word_list_import(
        name="New", language="es", rows_or_file="term,meaning\nsol,sun\nluna,\n"
    )

    assert [str(e) for e in report.errors] == ["Row 3: meaning is blank."]
    assert not WordList.objects.filter(name="New").exists()
    assert not Word.objects.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "The file is empty."),
        (
            "gato,cat\n",
            "Row 1: the first row must be the header (term, meaning, example, part_of_speech); it has “gato”, “cat”.",
        ),
        (
            "term,definition\ngato,cat\n",
            "Row 1: unknown column “definition”; the columns are term, meaning, example, part_of_speech.",
        ),
        ("term,meaning,term\ngato,cat,gato\n", "Row 1: the column “term” appears twice."),
        ("term,meaning\n", "The file has a header but no words."),
        ("meaning\ncat\n", "Row 1: the header has no “term” column."),
    ],
)
def test_it_explains_a_bad_header_or_an_empty_file(db, text, message):
    report = word_list_import(name="New", language="es", rows_or_file=text)

    assert str(report.errors[0]) == message
    assert not WordList.objects.exists()


def test_it_refuses_files_that_are_not_utf8(db):
    report = word_list_import(
        name="New", language="es", rows_or_file="term,meaning\nniño,child\n".encode("latin-1")
    )

    assert "not UTF-8" in str(report.errors[0])
    assert not WordList.objects.exists()


def test_it_limits_rows_and_bytes(db, monkeypatch):
    monkeypatch.setattr(vocabulary_import, "MAX_ROWS", 3)
    monkeypatch.setattr(vocabulary_import, "MAX_BYTES", 1024 * 1024)
    rows = "".join(f"w{n},m{n}\n" for n in range(4))

    too_many = word_list_import(name="New", language="es", rows_or_file="term,meaning\n" + rows)
    too_big = word_list_import(
        name="New", language="es", rows_or_file=io.BytesIO(b"term,meaning\n" + b"a,b\n" * 300_000)
    )

    assert [str(e) for e in too_many.errors] == ["The file has 4 rows; the limit is 3. Split it."]
    assert [str(e) for e in too_big.errors] == [
        "The file is larger than 1 MB. Split it into smaller files."
    ]
    assert not WordList.objects.exists()


@pytest.mark.parametrize(
    "name, language, message",
    [
        ("", "es", "The list needs a name."),
        ("New", None, "“New” is a new list: give its language."),
        ("New", "xx", "Unknown language “xx”."),
    ],
)
def test_it_needs_a_name_and_a_known_language(db, name, language, message):
    report = word_list_import(name=name, language=language, rows_or_file="term,meaning\nsol,sun\n")

    assert report.errors == (RowError(None, message),)


def test_a_database_error_while_writing_rolls_everything_back(db, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Word.objects, "bulk_update", fail)
    WordList.objects.create(name="Existing", language="es")
    word_list_import(name="Existing", rows_or_file="term,meaning\nsol,sun\n")
    before = snapshot()

    with pytest.raises(RuntimeError):
        word_list_import(
            name="Existing", description="new", rows_or_file="term,meaning\nsol,star\nluna,moon\n"
        )

    assert snapshot() == before
    assert WordList.objects.get(name="Existing").description == ""


def test_it_reports_progress_as_it_writes(db, monkeypatch):
    monkeypatch.setattr(vocabulary_import, "BATCH_SIZE", 2)
    calls = []
    rows = "".join(f"w{n},m{n}\n" for n in range(5))

    word_list_import(
        name="New",
        language="es",
        rows_or_file="term,meaning\n" + rows,
        progress=lambda d, t: calls.append((d, t)),
    )

    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5)]


@pytest.mark.parametrize(
    "row, field",
    [("ga\x00to,cat,,", "term"), ("gato,c\x00at,,", "meaning"), ("gato,cat,El\x00gato,", "example"),
     ("gato,cat,,no\x00un", "part_of_speech"), ("ga\ud800to,cat,,", "term")],
)
def test_a_cell_that_cannot_be_stored_is_reported_with_its_row_and_column(db, row, field):
    csv_text = f"term,meaning,example,part_of_speech\nperro,dog,,\n{row}\n"

    report = word_list_import(name="Animals", language="es", rows_or_file=csv_text)

    assert not report.ok
    assert [e.row for e in report.errors] == [3]
    assert f"{field} contains a character that cannot be stored" in str(report.errors[0])
    assert not WordList.objects.filter(name="Animals").exists()


def test_a_nul_in_an_uploaded_file_is_a_row_error(db):
    data = "term,meaning\nperro,dog\ngato,c\x00at\n".encode()

    report = word_list_import(name="Animals", language="es", rows_or_file=io.BytesIO(data))

    assert [str(e) for e in report.errors] == [
        "Row 3: meaning contains a character that cannot be stored (a NUL or a broken one)."
    ]
