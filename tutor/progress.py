"""Selectors: what the dashboard and the tutor read about a learner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone

from common import clock
from common.text import text_fold
from tutor.models import TestResult, Word, WordProgress
from tutor.srs import MASTERED_INTERVAL_DAYS


@dataclass
class WordState:
    word: Word
    progress: WordProgress | None
    due_label: str = ""  # when it comes up next, in words (``due_text``); set by the overview

    @property
    def state(self) -> str:
        return self.progress.state if self.progress else "new"

    def is_due(self, now: dt.datetime) -> bool:
        return self.progress is not None and self.progress.is_due(now)


@dataclass
class LearnerOverview:
    words: list[WordState]  # most urgent first (``urgency``)
    counts: dict[str, int] = field(default_factory=dict)
    recent_results: list[TestResult] = field(default_factory=list)


def urgency(item: WordState, now: dt.datetime) -> tuple:
    """Due words first (the longest overdue first), then words being learnt (soonest first),
    then new ones in list order, then mastered ones."""
    progress = item.progress
    if item.is_due(now):
        return (0, progress.due_at)
    if item.state == "learning":
        return (1, progress.due_at)
    if item.state == "new":
        return (2,)
    return (3, progress.due_at)


def learner_words(*, learner) -> list[WordState]:
    """Every word in the learner's assigned lists with its progress row (two queries)."""
    words = (
        Word.objects.filter(word_list__assignments__learner=learner)
        .select_related("word_list")
        .prefetch_related(
            Prefetch(
                "progress",
                queryset=WordProgress.objects.filter(learner=learner),
                to_attr="learner_progress",
            )
        )
        .order_by("word_list__name", "position", "term")
    )
    return [WordState(word=w, progress=(w.learner_progress or [None])[0]) for w in words]


def word_state_counts(states: list[WordState], now: dt.datetime) -> dict[str, int]:
    counts = {"new": 0, "learning": 0, "due": 0, "mastered": 0}
    for item in states:
        counts[item.state] += 1
        if item.is_due(now):
            counts["due"] += 1
    return counts


def due_text(progress: WordProgress | None, now: dt.datetime) -> str:
    """A word's next review, for people: "overdue by 2 days", "today", "tomorrow" or a date."""
    if progress is None or progress.is_new:
        return "—"
    today = timezone.localtime(now).date()
    day = timezone.localtime(progress.due_at).date()
    late = (today - day).days
    if late > 0:
        return f"overdue by {late} day{'s' if late != 1 else ''}"
    if day == today:
        return "today"
    if (day - today).days == 1:
        return "tomorrow"
    return f"{day:%b} {day.day}" + (f", {day.year}" if day.year != today.year else "")


def learner_overview(*, learner, now: dt.datetime | None = None, results: int = 10) -> LearnerOverview:
    now = now or clock.now()
    states = learner_words(learner=learner)
    for item in states:
        item.due_label = due_text(item.progress, now)
    states.sort(key=lambda item: urgency(item, now))  # stable: list order within a kind
    recent = list(
        TestResult.objects.filter(learner=learner).select_related("word_list")[:results]
    )
    return LearnerOverview(words=states, counts=word_state_counts(states, now), recent_results=recent)


@dataclass(frozen=True)
class TutorMaterial:
    """What the tutor should work on, by kind, each list already ordered and capped."""

    due: list[WordState]
    weak: list[WordState]
    new: list[WordState]
    revision: list[WordState]
    recent_results: list[TestResult]


def _assigned_progress(*, learner):
    return WordProgress.objects.filter(
        learner=learner, word__word_list__assignments__learner=learner
    ).select_related("word__word_list")


def _states(rows) -> list[WordState]:
    return [WordState(word=row.word, progress=row) for row in rows]


def tutor_material(
    *, learner, now: dt.datetime, limit: int = 12, revision_limit: int = 2, results: int = 3
) -> TutorMaterial:
    """The learner's due, weak, new and recently mastered (not yet due) words and latest grades.

    Five queries whatever the size of the vocabulary; every list has a total order,
    so the same data always gives the same material.
    """
    reviewed = _assigned_progress(learner=learner).filter(last_reviewed_at__isnull=False)
    not_mastered = Q(interval_days__lt=MASTERED_INTERVAL_DAYS)
    due = reviewed.filter(WordProgress.due_q(now)).order_by("due_at", "word_id")[:limit]
    weak = (
        reviewed.filter(not_mastered)
        .filter(
            Q(last_result__in=[WordProgress.Result.INCORRECT, WordProgress.Result.HESITANT])
            | Q(incorrect_count__gt=0)
        )
        .order_by(F("difficulty").desc(nulls_last=True), "-incorrect_count", "word_id")[:limit]
    )
    revision = reviewed.filter(interval_days__gte=MASTERED_INTERVAL_DAYS, due_at__gt=now).order_by(
        "-last_reviewed_at", "word_id"
    )[:revision_limit]
    new = (
        Word.objects.filter(word_list__assignments__learner=learner)
        .filter(
            ~Exists(
                WordProgress.objects.filter(
                    learner=learner, word=OuterRef("pk"), last_reviewed_at__isnull=False
                )
            )
        )
        .select_related("word_list")
        .order_by("word_list__name", "position", "term", "pk")[:limit]
    )
    recent = TestResult.objects.filter(learner=learner).select_related("word_list")
    return TutorMaterial(
        due=_states(due),
        weak=_states(weak),
        new=[WordState(word=word, progress=None) for word in new],
        revision=_states(revision),
        recent_results=list(recent.order_by("-taken_at", "-pk")[:results]),
    )


def learner_words_by_term(*, learner, term: str) -> list[Word]:
    """The words of the learner's assigned lists that are ``term`` by the project's one rule
    (``common.text.text_fold``: case, spacing, accents on Latin letters and punctuation at
    the ends don't count), in list order.

    An exact (case-insensitive) match in SQL answers most look-ups; otherwise the learner's
    terms are folded in Python, since SQL cannot fold accents the same way everywhere.
    """
    wanted = text_fold(term)
    if not wanted:
        return []
    assigned = Word.objects.filter(word_list__assignments__learner=learner).select_related(
        "word_list"
    )
    ordering = ("word_list__name", "position", "term", "pk")
    words = list(assigned.filter(term__iexact=" ".join(term.split())).order_by(*ordering))
    words = [word for word in words if text_fold(word.term) == wanted]
    if words:
        return words
    ids = [pk for pk, text in assigned.values_list("pk", "term") if text_fold(text) == wanted]
    return list(assigned.filter(pk__in=ids).order_by(*ordering)) if ids else []
