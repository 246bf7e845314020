"""Word lists a learner gives themselves: a starter list shipped with the project, or their own CSV.

Starter lists
    ``tutor/starter_lists/<language>.csv`` (one per language, ~100 common words with English
    meanings and an example sentence), loaded through ``vocabulary_import`` the first time a
    learner picks one. The list is created once and shared: every learner who picks it gets an
    assignment to the same list (a staff list, without an owner), so staff see who uses it.

A learner's own list
    A CSV the learner uploads, imported by the same importer (all or nothing, every bad row
    reported) into a list that belongs to them (``WordList.owner``): it is only ever assigned
    to them, and another learner's list of the same name is a different list.
"""

from __future__ import annotations

from pathlib import Path

from django.db import IntegrityError, transaction

from accounts.models import LANGUAGE_NAMES
from tutor.models import Assignment, WordList
from tutor.vocabulary_import import ImportReport, word_list_import

STARTER_DIR = Path(__file__).resolve().parent / "starter_lists"
STARTER_LANGUAGES = ("es", "fr", "de")


class StarterListMissing(Exception):
    """No starter list ships for that language; the message is for the learner."""


def starter_list_name(language: str) -> str:
    return f"Starter {LANGUAGE_NAMES[language]}: common words"


def starter_available(language: str) -> bool:
    return language in STARTER_LANGUAGES and (STARTER_DIR / f"{language}.csv").is_file()


def starter_list_get_or_create(*, language: str) -> WordList:
    """The shared starter list of ``language``, imported from its file the first time."""
    if not starter_available(language):
        raise StarterListMissing(
            f"There is no starter list for {LANGUAGE_NAMES.get(language, language)} yet: "
            "import your own list instead."
        )
    name = starter_list_name(language)
    existing = WordList.objects.filter(name=name, owner=None).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            report = word_list_import(
                name=name,
                language=language,
                rows_or_file=(STARTER_DIR / f"{language}.csv").read_bytes(),
                description="Common everyday words, shipped with Parlance.",
            )
    except IntegrityError:
        # Another learner created it at the same moment: use theirs.
        return WordList.objects.get(name=name, owner=None)
    if not report.ok:  # a broken data file is the project's bug, not the learner's
        raise RuntimeError(f"The {language} starter list does not import: {report.errors[0]}")
    return report.word_list


def starter_list_assign(*, learner, language: str) -> WordList:
    """Give ``learner`` the starter list of ``language`` (once; picking it again changes nothing)."""
    word_list = starter_list_get_or_create(language=language)
    Assignment.objects.get_or_create(learner=learner, word_list=word_list)
    return word_list


@transaction.atomic
def own_list_import(*, learner, name: str, upload) -> ImportReport:
    """Import the learner's CSV into their own list ``name`` (in their target language) and
    assign it to them; all or nothing."""
    report = word_list_import(
        name=name,
        language=learner.target_language,
        rows_or_file=upload,
        owner=learner,
    )
    if report.ok:
        Assignment.objects.get_or_create(learner=learner, word_list=report.word_list)
    return report
