import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import LANGUAGE_NAMES
from tutor.vocabulary_import import MAX_ROWS, word_list_import

MAX_LISTED_ERRORS = 200


class Command(BaseCommand):
    help = (
        "Import words from a CSV file (header row: term, meaning, example, part_of_speech) into "
        "the word list NAME, creating it if needed. For an existing list, new terms are added and "
        "the meanings of terms already in it are updated; no word is deleted. All or nothing: if "
        f"any row is bad, nothing is imported and every bad row is listed. At most {MAX_ROWS:,} "
        "rows. Use - as FILE to read standard input."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "file", metavar="FILE", help="CSV file, UTF-8, comma or semicolon separated"
        )
        parser.add_argument("--list", dest="list_name", required=True, metavar="NAME")
        parser.add_argument(
            "--language",
            choices=sorted(LANGUAGE_NAMES),
            help="language of the list; required when the list is new",
        )
        parser.add_argument("--description", default="", help="description of the list")
        parser.add_argument("--no-progress", action="store_true", help="don't draw a progress bar")

    def handle(self, *args, **options) -> None:
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None and total:
                bar = tqdm(
                    total=total,
                    unit="word",
                    desc="Importing",
                    file=getattr(self.stderr, "_out", sys.stderr),
                    disable=options.get("no_progress", False),
                )
            if bar is not None:
                bar.update(done - bar.n)

        try:
            with self._open(options["file"]) as source:
                report = word_list_import(
                    name=options["list_name"],
                    language=options.get("language"),
                    description=options.get("description", ""),
                    rows_or_file=source,
                    progress=progress,
                )
        finally:
            if bar is not None:
                bar.close()

        if not report.ok:
            lines = [report.summary]
            lines += [f"  {error}" for error in report.errors[:MAX_LISTED_ERRORS]]
            if len(report.errors) > MAX_LISTED_ERRORS:
                lines.append(f"  … and {len(report.errors) - MAX_LISTED_ERRORS} more.")
            raise CommandError("\n".join(lines))
        self.stdout.write(self.style.SUCCESS(report.summary))

    def _open(self, name: str):
        if name == "-":
            return _StdinBytes()
        path = Path(name)
        if not path.is_file():
            raise CommandError(f"No such file: {name}")
        return path.open("rb")


class _StdinBytes:
    def __enter__(self):
        return sys.stdin.buffer

    def __exit__(self, *exc) -> None:
        return None
