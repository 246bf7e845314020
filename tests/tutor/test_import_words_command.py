"""manage.py import_words FILE --list NAME: progress bar, summary, row errors and exit status."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tutor.management.commands.import_words import Command
from tutor.models import Word, WordList

pytestmark = pytest.mark.django_db


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str, name: str = "words.csv"):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8-sig"))
        return str(path)

    return write


def run(*args, **options) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("import_words", *args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


def test_it_imports_a_file_into_a_new_list_with_a_progress_bar(csv_file):
    path = csv_file("term;meaning;example\ngato;cat;El gato.\nperro;dog;\n")

    out, err = run(path, "--list", "Animals", "--language", "es", "--description", "Pets")

    assert out.strip() == "Created “Animals”: 2 added, 0 updated, 0 unchanged."
    assert "Importing" in err and "2/2" in err  # tqdm's bar on stderr
    word_list = WordList.objects.get(name="Animals")
    assert (word_list.language, word_list.description) == ("es", "Pets")
    assert list(word_list.words.values_list("term", "meaning", "example")) == [
        ("gato", "cat", "El gato."),
        ("perro", "dog", ""),
    ]


def test_it_updates_an_existing_list(csv_file, spanish):
    out, _ = run(
        csv_file("term,meaning\ngato,a cat\nsol,sun\n"), "--list", "Spanish basics", "--no-progress"
    )

    assert out.strip() == "Updated “Spanish basics”: 1 added, 1 updated, 0 unchanged."
    assert spanish.words.get(term="gato").meaning == "a cat"


def test_it_lists_every_bad_row_and_imports_nothing(csv_file, spanish):
    path = csv_file("term,meaning,part_of_speech\nsol,sun,noun\n,moon,\nnube,cloud,thing\n")
    before = list(Word.objects.values_list("pk", "term", "meaning"))
    command = Command(stdout=io.StringIO(), stderr=io.StringIO())

    with pytest.raises(CommandError) as raised:
        command.handle(
            file=path, list_name="Spanish basics", language=None, description="", no_progress=True
        )

    assert str(raised.value).splitlines() == [
        "Nothing was imported: 2 problems found.",
        "  Row 3: term is blank.",
        "  Row 4: unknown part of speech “thing” (use one of noun, verb, adjective, adverb, phrase, other, or leave it blank).",
    ]
    assert list(Word.objects.values_list("pk", "term", "meaning")) == before
    assert command.stdout.getvalue() == ""


def test_a_new_list_needs_a_language(csv_file):
    with pytest.raises(CommandError, match="“Animals” is a new list: give its language."):
        run(csv_file("term,meaning\ngato,cat\n"), "--list", "Animals")

    assert not WordList.objects.exists()


def test_it_exits_non_zero_for_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "missing.csv"), "--list", "Animals", "--language", "es")


def test_it_rejects_an_unknown_language(csv_file):
    with pytest.raises(CommandError, match="invalid choice"):
        run(csv_file("term,meaning\ngato,cat\n"), "--list", "Animals", "--language", "klingon")


def test_it_caps_the_listed_errors(csv_file, monkeypatch):
    monkeypatch.setattr("tutor.management.commands.import_words.MAX_LISTED_ERRORS", 2)
    path = csv_file("term,meaning\n" + "".join(f"w{n},\n" for n in range(5)))

    with pytest.raises(CommandError) as raised:
        run(path, "--list", "New", "--language", "es", "--no-progress")

    assert str(raised.value).splitlines()[-1] == "  … and 3 more."
