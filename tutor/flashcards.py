"""Flashcard review: short rounds of due words, then new ones, graded by the learner.

A round is a fixed list of word ids chosen when it starts (due words first, oldest due
first, then new words in list order), kept in the learner's Django session as plain
JSON. Each card is graded once with one of the four FSRS ratings (again, hard, good,
easy), through ``word_practice_record`` (source ``flashcard``); each button shows when
the word would come back with that rating.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef
from django.http import Http404

from tutor import srs
from tutor.models import Review, Word, WordProgress
from tutor.practice import word_practice_record

ROUND_SIZE = 10
# A round left unfinished for longer is dropped: the next visit starts one on today's words.
ROUND_MAX_AGE = dt.timedelta(hours=6)
SESSION_KEY = "tutor.review_round"

GRADES: dict[str, srs.Rating] = {
    "again": srs.Rating.Again,
    "hard": srs.Rating.Hard,
    "good": srs.Rating.Good,
    "easy": srs.Rating.Easy,
}
GRADE_LABELS = {"again": "Again", "hard": "Hard", "good": "Good", "easy": "Easy"}


@dataclass(frozen=True)
class Card:
    word: Word
    kind: str  # "due" or "new"
    progress: WordProgress | None = None


@dataclass(frozen=True)
class GradeChoice:
    grade: str
    label: str
    key: str
    interval: dt.timedelta

    @property
    def when(self) -> str:
        """The interval as the button shows it: "10 min", "1 d", "4 d"."""
        return srs.interval_label(self.interval)


@dataclass
class ReviewRound:
    """The word ids of one round and the grade given to each card so far."""

    word_ids: list[int]
    started_at: float  # POSIX timestamp
    grades: dict[int, str] = field(default_factory=dict)

    @property
    def remaining(self) -> list[int]:
        return [word_id for word_id in self.word_ids if word_id not in self.grades]

    @property
    def total(self) -> int:
        return len(self.word_ids)

    @property
    def position(self) -> int:
        """The number of the card being shown, counting from one."""
        return len(self.grades) + 1

    def is_stale(self, now: dt.datetime) -> bool:
        return not 0 <= now.timestamp() - self.started_at <= ROUND_MAX_AGE.total_seconds()

    def grade_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(GRADES, 0)
        for grade in self.grades.values():
            counts[grade] += 1
        return counts

    def to_session(self) -> dict[str, Any]:
        return {
            "words": self.word_ids,
            "started": self.started_at,
            "grades": [[k, v] for k, v in self.grades.items()],
        }

    @classmethod
    def from_session(cls, data: Any) -> ReviewRound | None:
        """The round saved by ``to_session``; None when there is none or it is malformed."""
        if not isinstance(data, dict):
            return None
        words, grades, started = data.get("words"), data.get("grades"), data.get("started")
        if not isinstance(words, list) or not isinstance(grades, list):
            return None
        if isinstance(started, bool) or not isinstance(started, (int, float)):
            return None
        if not all(isinstance(word_id, int) for word_id in words):
            return None
        graded: dict[int, str] = {}
        for pair in grades:
            if not (isinstance(pair, list) and len(pair) == 2 and pair[0] in words and pair[1] in GRADES):
                return None
            graded[pair[0]] = pair[1]
        return cls(word_ids=list(words), started_at=float(started), grades=graded)


def _assigned_words(*, learner):
    return Word.objects.filter(word_list__assignments__learner=learner)


def review_cards(*, learner, now: dt.datetime, limit: int = ROUND_SIZE) -> list[Card]:
    """Up to ``limit`` cards: due words (oldest due first), then never-reviewed words in list order.

    Only words of the learner's assigned lists; two queries.
    """
    due = list(
        WordProgress.objects.filter(
            WordProgress.due_q(now),
            learner=learner,
            word__word_list__assignments__learner=learner,
        )
        .select_related("word__word_list")
        .order_by("due_at", "word_id")[:limit]
    )
    cards = [Card(word=row.word, kind="due", progress=row) for row in due]
    if len(cards) < limit:
        reviewed = WordProgress.objects.filter(
            learner=learner, word=OuterRef("pk"), last_reviewed_at__isnull=False
        )
        new = (
            _assigned_words(learner=learner)
            .filter(~Exists(reviewed))
            .select_related("word_list")
            .order_by("word_list__name", "position", "term", "pk")[: limit - len(cards)]
        )
        cards += [Card(word=word, kind="new") for word in new]
    return cards


def next_due_in(*, learner, now: dt.datetime) -> str:
    """When the learner's next practised word comes due, as "10 min" or "2 d"; "" if none."""
    upcoming = (
        WordProgress.objects.filter(
            learner=learner, last_reviewed_at__isnull=False, word__word_list__assignments__learner=learner
        )
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    if upcoming is None:
        return ""
    return srs.interval_label(upcoming - now) if upcoming > now else "now"


def review_round_start(*, learner, now: dt.datetime, limit: int = ROUND_SIZE) -> ReviewRound:
    cards = review_cards(learner=learner, now=now, limit=limit)
    return ReviewRound(word_ids=[card.word.pk for card in cards], started_at=now.timestamp())


def review_round_card(*, learner, review_round: ReviewRound, now: dt.datetime) -> Card | None:
    """The round's next card, or None when it is over.

    Words taken out of the learner's lists since the round started are dropped from it.
    """
    remaining = review_round.remaining
    if not remaining:
        return None
    words = {
        word.pk: word
        for word in _assigned_words(learner=learner).filter(pk__in=remaining).select_related("word_list")
    }
    review_round.word_ids = [
        word_id for word_id in review_round.word_ids if word_id in words or word_id in review_round.grades
    ]
    if not words:
        return None
    word = words[review_round.remaining[0]]
    progress = WordProgress.objects.filter(learner=learner, word=word).first()
    is_due = progress is not None and progress.is_due(now)
    return Card(word=word, kind="due" if is_due else "new", progress=progress)


def grade_choices(*, learner, progress: WordProgress | None, now: dt.datetime) -> list[GradeChoice]:
    """The four grades with how long until the word would come back, from the scheduler."""
    card = progress.card if progress else srs.new_card(now)
    intervals = srs.preview(card, now=now, desired_retention=srs.retention_for(learner))
    return [
        GradeChoice(grade=grade, label=GRADE_LABELS[grade], key=str(key), interval=intervals[rating])
        for key, (grade, rating) in enumerate(GRADES.items(), start=1)
    ]


def review_word_get(*, learner, word_id: int) -> Word:
    """A word of the learner's assigned lists, or 404."""
    word = _assigned_words(learner=learner).filter(pk=word_id).first()
    if word is None:
        raise Http404("No such word in your lists.")
    return word


def review_card_grade(
    *, learner, review_round: ReviewRound, word: Word, grade: str, now: dt.datetime
) -> bool:
    """Record the learner's grade for a card of the round; False if it is not a card still to grade.

    Grading the same card twice (a resent form, the back button) records it once.
    """
    if grade not in GRADES:
        raise ValueError(f"unknown grade {grade!r}")
    if word.pk not in review_round.remaining:
        return False
    word_practice_record(
        learner=learner, word=word, rating=GRADES[grade], source=Review.Source.FLASHCARD, now=now
    )
    review_round.grades[word.pk] = grade
    return True


def review_round_words(*, learner, review_round: ReviewRound) -> list[tuple[Word, str]]:
    """The graded words of a round, in round order, with their grades."""
    words = _assigned_words(learner=learner).filter(pk__in=list(review_round.grades)).select_related("word_list").in_bulk()
    return [
        (words[word_id], review_round.grades[word_id])
        for word_id in review_round.word_ids
        if word_id in review_round.grades and word_id in words
    ]
