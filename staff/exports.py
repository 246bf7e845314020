"""CSV exports of grades and progress for staff, streamed row by row.

Each writer takes a queryset and yields a header row then one row per object; the
queryset is read in chunks with its related rows joined, so an export costs a fixed
number of queries whatever its size. Text that a spreadsheet would run as a formula
(starting with =, +, -, @) is prefixed with an apostrophe. Times are ISO 8601 in
the site's time zone.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from common import clock
from tutor.models import TestResult, WordProgress

CHUNK_SIZE = 2_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

GRADE_COLUMNS = [
    "learner_email",
    "learner_name",
    "cefr_level",
    "word_list",
    "source",
    "taken_at",
    "score",
    "max_score",
    "percent",
]

PROGRESS_COLUMNS = [
    "learner_email",
    "learner_name",
    "cefr_level",
    "word_list",
    "term",
    "meaning",
    "state",
    "due",
    "due_at",
    "repetitions",
    "interval_days",
    "card_state",
    "stability",
    "difficulty",
    "last_result",
    "correct_count",
    "incorrect_count",
    "last_reviewed_at",
    "mastered_at",
]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def grade_rows(results: QuerySet[TestResult]) -> Iterator[list[Any]]:
    yield GRADE_COLUMNS
    results = results.select_related("learner", "word_list").order_by(
        "learner__email", "taken_at", "pk"
    )
    for result in results.iterator(chunk_size=CHUNK_SIZE):
        learner = result.learner
        yield [
            _cell(value)
            for value in (
                learner.email,
                learner.display_name,
                learner.cefr_level,
                result.word_list.name if result.word_list else "",
                result.source,
                result.taken_at,
                result.score,
                result.max_score,
                result.percent,
            )
        ]


def progress_rows(
    progress: QuerySet[WordProgress], *, now: dt.datetime | None = None
) -> Iterator[list[Any]]:
    now = now or clock.now()
    yield PROGRESS_COLUMNS
    progress = progress.select_related("learner", "word__word_list").order_by(
        "learner__email", "word__word_list__name", "word__position", "word__term", "pk"
    )
    for row in progress.iterator(chunk_size=CHUNK_SIZE):
        learner, word = row.learner, row.word
        yield [
            _cell(value)
            for value in (
                learner.email,
                learner.display_name,
                learner.cefr_level,
                word.word_list.name,
                word.term,
                word.meaning,
                row.state,
                row.is_due(now),
                row.due_at,
                row.repetitions,
                row.interval_days,
                row.get_card_state_display(),
                row.stability,
                row.difficulty,
                row.last_result,
                row.correct_count,
                row.incorrect_count,
                row.last_reviewed_at,
                row.mastered_at,
            )
        ]


class _Echo:
    """A file-like object whose write() returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_response(rows: Iterable[list[Any]], *, filename: str) -> StreamingHttpResponse:
    """Stream rows as CSV; the leading byte-order mark lets spreadsheets detect UTF-8."""
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in rows)
    response = StreamingHttpResponse(
        itertools.chain(["\ufeff"], lines), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_filename(kind: str, *, now: dt.datetime | None = None) -> str:
    stamp = timezone.localtime(now or clock.now()).strftime("%Y-%m-%d-%H%M")
    return f"parlance-{kind}-{stamp}.csv"
