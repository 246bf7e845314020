"""Selectors: what the dashboard and the tutor read about a learner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils import timezone

from tutor.models import TestResult, Word, WordProgress


@dataclass
class WordState:
    word: Word
    progress: WordProgress | None

    @property
    def state(self) -> str:
        return self.progress.state if self.progress else "new"

    def is_due(self, now: dt.datetime) -> bool:
        return self.progress is not None and not self.progress.is_new and self.progress.is_due(now)


@dataclass
class LearnerOverview:
    words: list[WordState]
    counts: dict[str, int] = field(default_factory=dict)
    recent_results: list[TestResult] = field(default_factory=list)


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


def learner_overview(*, learner, now: dt.datetime | None = None, results: int = 10) -> LearnerOverview:
    now = now or timezone.now()
    states = learner_words(learner=learner)
    recent = list(
        TestResult.objects.filter(learner=learner).select_related("word_list")[:results]
    )
    return LearnerOverview(words=states, counts=word_state_counts(states, now), recent_results=recent)
