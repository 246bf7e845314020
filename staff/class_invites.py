"""Inviting a whole class from a CSV file: every row checked first, then all or nothing.

Columns (header row, any order): email, display name, native language, level. Header
spellings are folded with ``common.text`` ("Display_Name", "display name" and "displayname"
are one column). A language is its code or English name (``es``, ``Spanish``); a level is a
CEFR level (``B1``). If any row is wrong nothing is created and each wrong row is reported;
otherwise each learner is created without a password, joins the class (getting its lists),
and gets an invitation email once the transaction commits.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.models import LANGUAGES, CefrLevel, User
from common.text import text_fold
from staff.invitations import learner_invite
from tutor.classrooms import classroom_learners_add
from tutor.models import Classroom

MAX_ROWS = 500
MAX_BYTES = 512 * 1024
COLUMNS = ["email", "display name", "native language", "level"]
HEADER_ALIASES = {
    "email": "email",
    "email address": "email",
    "e mail": "email",
    "display name": "display name",
    "name": "display name",
    "native language": "native language",
    "native": "native language",
    "language": "native language",
    "level": "level",
    "cefr level": "level",
    "cefr": "level",
}
LANGUAGE_BY_NAME = {text_fold(name): code for code, name in LANGUAGES} | {
    code: code for code, _ in LANGUAGES
}
LEVELS = {level.value.casefold(): level.value for level in CefrLevel}
TEMPLATE_CSV = "email,display name,native language,level\nana@example.com,Ana,es,A2\n"


def header_fold(name: str) -> str:
    """A header cell as compared: folded text with ``_`` and ``-`` read as spaces."""
    return text_fold(name.replace("_", " ").replace("-", " "))


@dataclass
class InviteRow:
    line: int
    email: str
    display_name: str = ""
    native_language: str = "en"
    level: str = CefrLevel.A1
    errors: list[str] = field(default_factory=list)


@dataclass
class InviteReport:
    rows: list[InviteRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # about the file as a whole
    invited: list[User] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(not row.errors for row in self.rows)

    @property
    def bad_rows(self) -> int:
        return sum(1 for row in self.rows if row.errors)


def _read(upload) -> tuple[list[str], list[list[str]]] | str:
    if upload.size > MAX_BYTES:
        return f"The file is larger than {MAX_BYTES // 1024} KB."
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "The file is not UTF-8 text; save it as CSV UTF-8."
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    lines = [line for line in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in line)]
    if not lines:
        return "The file is empty."
    return lines[0], lines[1:]


def invite_rows_check(upload, *, existing_emails: set[str] | None = None) -> InviteReport:
    """Read and check every row of ``upload``; nothing is written."""
    report = InviteReport()
    read = _read(upload)
    if isinstance(read, str):
        report.errors.append(read)
        return report
    header, lines = read
    columns = [HEADER_ALIASES.get(header_fold(cell)) for cell in header]
    if "email" not in columns:
        report.errors.append(
            "The header row needs an “email” column (columns: " + ", ".join(COLUMNS) + ")."
        )
        return report
    if len(lines) > MAX_ROWS:
        report.errors.append(f"The file has {len(lines)} rows; at most {MAX_ROWS} at a time.")
        return report
    seen: dict[str, int] = {}
    for number, cells in enumerate(lines, start=2):
        values = {
            column: cells[i].strip() if i < len(cells) else ""
            for i, column in enumerate(columns)
            if column
        }
        row = InviteRow(line=number, email=User.objects.normalize_email(values["email"]).lower())
        _check_row(row, values, seen)
        report.rows.append(row)
    emails = {row.email for row in report.rows if row.email}
    taken = {
        email.lower() for email in User.objects.filter(email__in=emails).values_list("email", flat=True)
    }
    for row in report.rows:
        if row.email in taken:
            row.errors.append("already has an account: add them to the class from the learners list")
    if not report.rows:
        report.errors.append("The file has a header row but no learners.")
    return report


def _check_row(row: InviteRow, values: dict[str, str], seen: dict[str, int]) -> None:
    try:
        validate_email(row.email)
    except ValidationError:
        row.errors.append(f"“{values['email']}” is not an email address")
    else:
        if row.email in seen:
            row.errors.append(f"the same email as row {seen[row.email]}")
        seen.setdefault(row.email, row.line)
    row.display_name = values.get("display name", "")
    if len(row.display_name) > 80:
        row.errors.append("the display name is longer than 80 characters")
    language = values.get("native language", "")
    if language:
        code = LANGUAGE_BY_NAME.get(text_fold(language))
        if code is None:
            row.errors.append(f"unknown native language “{language}”")
        else:
            row.native_language = code
    level = values.get("level", "")
    if level:
        found = LEVELS.get(level.split()[0].casefold())
        if found is None:
            row.errors.append(f"unknown level “{level}” (A1 to C2)")
        else:
            row.level = found


def classroom_invite(*, request: HttpRequest, classroom: Classroom, upload) -> InviteReport:
    """Check ``upload``; if every row is right, create the learners in ``classroom`` and queue
    their invitations. All or nothing."""
    report = invite_rows_check(upload)
    if not report.ok:
        return report
    target = classroom.lists.select_related("word_list").first()
    try:
        _create(request, classroom, report, target)
    except IntegrityError:  # an account made meanwhile by another request: nothing was kept
        report.invited.clear()
        report.errors.append("One of these accounts was just created elsewhere; upload the file again.")
    return report


def _create(request, classroom, report, target) -> None:
    with transaction.atomic():
        for row in report.rows:
            learner = User(
                email=row.email,
                display_name=row.display_name,
                native_language=row.native_language,
                cefr_level=row.level,
                **({"target_language": target.word_list.language} if target else {}),
            )
            learner.set_unusable_password()
            learner.save()
            report.invited.append(learner)
        classroom_learners_add(classroom=classroom, learners=report.invited)
        for learner in report.invited:
            transaction.on_commit(
                lambda learner=learner: learner_invite(request=request, learner=learner)
            )
