"""Import a word list from CSV: one service for the admin and ``manage.py import_words``.

The file
    UTF-8 (a byte-order mark is fine), comma, semicolon or tab separated, with a header row.
    Columns: ``term`` and ``meaning`` (required), ``example`` and ``part_of_speech``
    (optional; "part of speech" is accepted too). Header names ignore case; any other
    column is an error. Blank lines are skipped.

Rules, checked for every row before anything is written
    - ``term`` and ``meaning`` must not be blank, and must fit their fields.
    - ``part_of_speech`` is blank or one of noun, verb, adjective, adverb, phrase, other.
    - A term may appear only once in the file (ignoring case and extra spaces).
    - At most ``MAX_ROWS`` rows and ``MAX_BYTES`` bytes.

Into an existing list (same name, among staff lists or among the importing learner's own)
    - A new term is added after the list's current words, in file order.
    - A term already in the list (ignoring case and extra spaces) gets the file's meaning;
      its example and part of speech are replaced only when the file's cell is not blank.
    - Words of the list that are not in the file are kept.
    - The language given, if any, must be the list's language.

All or nothing: any bad row means nothing is written and every problem is reported
with its row number (the header is row 1, as in a spreadsheet). The writes run in one
transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction

from accounts.models import LANGUAGE_NAMES
from common.text import storable, text_clean, text_fold
from tutor.models import Word, WordList
from tutor.material_cache import word_lists_changed

MAX_ROWS = 5_000
MAX_BYTES = 2 * 1024 * 1024
BATCH_SIZE = 500

COLUMNS = ("term", "meaning", "example", "part_of_speech")
REQUIRED_COLUMNS = ("term", "meaning")
PARTS_OF_SPEECH = tuple(Word.PartOfSpeech.values)
DELIMITERS = ",;\t"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowError:
    """A problem with the file; ``row`` is None for problems with the file as a whole."""

    row: int | None
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}: {self.message}" if self.row is not None else self.message


@dataclass(frozen=True)
class ImportReport:
    word_list: WordList | None = None
    list_created: bool = False
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: tuple[RowError, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def summary(self) -> str:
        if self.errors:
            count = len(self.errors)
            return f"Nothing was imported: {count} problem{'s' if count != 1 else ''} found."
        verb = "Created" if self.list_created else "Updated"
        return (
            f"{verb} “{self.word_list}”: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged."
        )


@dataclass(frozen=True)
class _Row:
    number: int
    term: str
    meaning: str
    example: str
    part_of_speech: str


def _clean(value: Any) -> str:
    return text_clean(str(value or ""))


def _failed(*errors: RowError) -> ImportReport:
    return ImportReport(errors=tuple(errors))


# --- reading --------------------------------------------------------------


def _read_text(source: str | bytes | IO) -> str | RowError:
    """The decoded text of a string, bytes or (binary or text) file, or why it can't be read."""
    if isinstance(source, (str, bytes)):
        data = source
    else:
        size = getattr(source, "size", None)
        if size is not None and size > MAX_BYTES:
            return _too_big()
        data = source.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return _too_big()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return RowError(
                None,
                f"The file is not UTF-8 text (bad byte at position {exc.start}). "
                "Save it as “CSV UTF-8” and try again.",
            )
    return data.removeprefix("\ufeff")


def _too_big() -> RowError:
    return RowError(
        None,
        f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. Split it into smaller files.",
    )


def _delimiter(text: str) -> str:
    """Sniff the delimiter; fall back to the separator the header line uses most."""
    sample = "\n".join(text.splitlines()[:20])
    header = text.splitlines()[0] if text.strip() else ""
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = None
    if found and found in header:
        return found
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _rows_from(source: str | bytes | IO | Iterable[Sequence[str]]) -> list[list[str]] | RowError:
    if isinstance(source, (str, bytes)) or hasattr(source, "read"):
        text = _read_text(source)
        if isinstance(text, RowError):
            return text
        if not text.strip():
            return RowError(None, "The file is empty.")
        try:
            return list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
        except csv.Error as exc:
            return RowError(None, f"The file is not valid CSV: {exc}.")
    rows = list(source)
    if rows and all(isinstance(row, str) for row in rows):  # lines of text
        return _rows_from("\n".join(row.rstrip("\r\n") for row in rows))
    return [list(row) for row in rows]


# Other spellings of the columns a header may use, as folded by ``header_name``.
HEADER_ALIASES = {
    "example_sentence": "example",
    "examples": "example",
    "sentence": "example",
    "pos": "part_of_speech",
    "part_of_speach": "part_of_speech",
    "word": "term",
    "translation": "meaning",
}


def header_name(cell: str) -> str:
    """A header cell as a column name: folded like every word (``common.text``), spaces and
    dashes as underscores, other spellings mapped (``Example sentence`` is ``example``)."""
    name = text_fold(cell.replace("_", " ").replace("-", " ")).replace(" ", "_")
    return HEADER_ALIASES.get(name, name)


def _header_columns(header: Sequence[str]) -> tuple[list[str], list[RowError]]:
    names = [header_name(cell) for cell in header]
    if not set(names) & set(COLUMNS):
        found = ", ".join(f"“{_clean(cell)}”" for cell in header if _clean(cell))
        return names, [
            RowError(
                1,
                f"the first row must be the header ({', '.join(COLUMNS)}); it has {found}.",
            )
        ]
    errors = [
        RowError(1, f"unknown column “{name}”; the columns are {', '.join(COLUMNS)}.")
        for name in names
        if name and name not in COLUMNS
    ]
    errors += [
        RowError(1, f"the header has no “{name}” column.")
        for name in REQUIRED_COLUMNS
        if name not in names
    ]
    named = [name for name in names if name]
    errors += [
        RowError(1, f"the column “{name}” appears twice.")
        for name in sorted(set(named))
        if named.count(name) > 1
    ]
    return names, errors


def _parse(table: list[list[str]]) -> tuple[list[_Row], list[RowError]]:
    if not table or not any(_clean(cell) for cell in table[0]):
        return [], [RowError(1, "the header row is missing; the first row must name the columns.")]
    names, header_errors = _header_columns(table[0])
    if header_errors:
        return [], header_errors
    max_len = {f.name: f.max_length for f in Word._meta.get_fields() if f.name in COLUMNS}

    rows: list[_Row] = []
    errors: list[RowError] = []
    first_seen: dict[str, int] = {}
    data = [
        (number, cells)
        for number, cells in enumerate(table[1:], start=2)
        if any(_clean(cell) for cell in cells)
    ]
    if not data:
        return [], [RowError(None, "The file has a header but no words.")]
    if len(data) > MAX_ROWS:
        return [], [
            RowError(None, f"The file has {len(data):,} rows; the limit is {MAX_ROWS:,}. Split it.")
        ]

    for number, cells in data:
        extra = [cell for cell in cells[len(names) :] if _clean(cell)]
        if extra:
            errors.append(
                RowError(number, f"{len(cells)} cells but the header has {len(names)} columns.")
            )
            continue
        values = {name: _clean(cell) for name, cell in zip(names, cells, strict=False) if name}
        term = values.get("term", "")
        meaning = values.get("meaning", "")
        example = values.get("example", "")
        part = values.get("part_of_speech", "").casefold()
        problems = []
        if not term:
            problems.append("term is blank")
        if not meaning:
            problems.append("meaning is blank")
        for name, value in values.items():
            if not storable(value):
                problems.append(f"{name} contains a character that cannot be stored (a NUL or a broken one)")
        for name, value in (("term", term), ("meaning", meaning), ("example", example)):
            if len(value) > max_len[name]:
                problems.append(f"{name} is longer than {max_len[name]} characters")
        if part and part not in PARTS_OF_SPEECH:
            problems.append(
                f"unknown part of speech “{values['part_of_speech']}” "
                f"(use one of {', '.join(PARTS_OF_SPEECH)}, or leave it blank)"
            )
        if term:
            key = text_fold(term)
            if key in first_seen:
                problems.append(f"“{term}” is already on row {first_seen[key]}")
            else:
                first_seen[key] = number
        if problems:
            errors.append(RowError(number, "; ".join(problems) + "."))
        else:
            rows.append(_Row(number, term, meaning, example, part))
    return rows, errors


# --- writing --------------------------------------------------------------


def _target_list(
    *, name: str, language: str | None, description: str, owner=None
) -> tuple[WordList | None, list[RowError]]:
    name = " ".join(name.split())
    if not name:
        return None, [RowError(None, "The list needs a name.")]
    if len(name) > WordList._meta.get_field("name").max_length:
        return None, [RowError(None, "The list name is too long.")]
    if language and language not in LANGUAGE_NAMES:
        return None, [RowError(None, f"Unknown language “{language}”.")]
    # A learner's own lists are looked up among theirs only; staff lists among staff lists.
    existing = WordList.objects.filter(name__iexact=name, owner=owner).first()
    if existing is None:
        if not language:
            return None, [RowError(None, f"“{name}” is a new list: give its language.")]
        return WordList(name=name, language=language, description=description, owner=owner), []
    if language and existing.language != language:
        return None, [
            RowError(
                None,
                f"The list “{existing.name}” is in {LANGUAGE_NAMES.get(existing.language)}, "
                f"not {LANGUAGE_NAMES[language]}.",
            )
        ]
    return existing, []


def word_list_import(
    *,
    name: str,
    language: str | None = None,
    rows_or_file: str | bytes | IO | Iterable[Sequence[str]],
    description: str = "",
    progress: Progress | None = None,
    owner=None,
) -> ImportReport:
    """Create or extend the list ``name`` from CSV (text, bytes, a file, or rows with a header).

    ``owner``: a learner importing a list of their own (only their own lists are found by
    name and extended); None for staff lists. Returns a report; when it has errors, nothing
    was written. ``progress(done, total)`` is called as rows are written.
    """
    word_list, errors = _target_list(
        name=name, language=language, description=description, owner=owner
    )
    table = _rows_from(rows_or_file)
    if isinstance(table, RowError):
        return _failed(*errors, table)
    rows, row_errors = _parse(table)
    if errors or row_errors:
        return _failed(*errors, *row_errors)
    return _write(word_list, rows, description=description, progress=progress)


@transaction.atomic
def _write(
    word_list: WordList, rows: list[_Row], *, description: str, progress: Progress | None
) -> ImportReport:
    created = word_list.pk is None
    if created:
        word_list.save()
    elif description and description != word_list.description:
        word_list.description = description
        word_list.save(update_fields=["description"])

    existing = list(Word.objects.select_for_update().filter(word_list=word_list).order_by("pk"))
    exact = {word.term: word for word in existing}
    folded: dict[str, Word] = {}
    for word in existing:
        folded.setdefault(text_fold(word.term), word)
    position = max((w.position for w in existing), default=-1) + 1

    to_create: list[Word] = []
    to_update: list[Word] = []
    unchanged = 0
    for row in rows:
        word = exact.get(row.term) or folded.get(text_fold(row.term))
        if word is None:
            to_create.append(
                Word(
                    word_list=word_list,
                    term=row.term,
                    meaning=row.meaning,
                    example=row.example,
                    part_of_speech=row.part_of_speech or Word.PartOfSpeech.OTHER,
                    position=position,
                )
            )
            position += 1
            continue
        before = (word.meaning, word.example, word.part_of_speech)
        word.meaning = row.meaning
        word.example = row.example or word.example
        word.part_of_speech = row.part_of_speech or word.part_of_speech
        if (word.meaning, word.example, word.part_of_speech) == before:
            unchanged += 1
        else:
            to_update.append(word)

    total = len(to_create) + len(to_update)
    done = 0
    if progress:
        progress(done, total)
    for start in range(0, len(to_create), BATCH_SIZE):
        batch = to_create[start : start + BATCH_SIZE]
        Word.objects.bulk_create(batch)
        done += len(batch)
        if progress:
            progress(done, total)
    for start in range(0, len(to_update), BATCH_SIZE):
        batch = to_update[start : start + BATCH_SIZE]
        Word.objects.bulk_update(batch, ["meaning", "example", "part_of_speech"])
        done += len(batch)
        if progress:
            progress(done, total)

    if total:
        word_lists_changed()  # bulk writes send no save signals: the tutor's material may change
    return ImportReport(
        word_list=word_list,
        list_created=created,
        added=len(to_create),
        updated=len(to_update),
        unchanged=unchanged,
    )
