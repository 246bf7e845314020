"""Spaced repetition through FSRS (the ``fsrs`` package): plain values in, plain values out.

A word's schedule is an FSRS card (state, step, stability, difficulty, due, last review);
WordProgress stores those fields and ``tutor.practice`` is the one place that applies a
review to them. Every piece of evidence becomes one of four ratings (docs/ratings.md):
flashcards give a rating directly; tests and voice evidence map their outcome to one.

Fuzzing is off: the interval a flashcard button shows is the interval the word gets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from fsrs import Card, Rating, Scheduler, State

# A word whose next review is three weeks or more away counts as mastered.
MASTERED_INTERVAL_DAYS = 21

OUTCOME_RATING = {"correct": Rating.Good, "hesitant": Rating.Hard, "incorrect": Rating.Again}
# What a rating says about the answer, for the history and the counts.
RATING_OUTCOME = {
    Rating.Again: "incorrect",
    Rating.Hard: "hesitant",
    Rating.Good: "correct",
    Rating.Easy: "correct",
}


@dataclass(frozen=True)
class CardState:
    """The FSRS fields WordProgress stores."""

    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due_at: dt.datetime
    last_reviewed_at: dt.datetime | None

    @property
    def interval_days(self) -> int:
        """Whole days from the last review to the next (0 while in a learning step)."""
        if self.last_reviewed_at is None:
            return 0
        return max(0, (self.due_at - self.last_reviewed_at).days)


def outcome_rating(outcome: str, *, clear: bool | None = None) -> Rating:
    """The rating for an outcome (``correct``/``hesitant``/``incorrect``) and how clearly the
    word was said (``clear``, from the transcription's confidence; None when unknown).

    Correct and clear, or correct with clarity unknown: Good. Correct but unclear: Hard.
    Hesitant: Hard. Incorrect: Again, however clearly it was said.
    """
    try:
        rating = OUTCOME_RATING[outcome]
    except KeyError:
        raise ValueError(f"unknown outcome {outcome!r}") from None
    if rating == Rating.Good and clear is False:
        return Rating.Hard
    return rating


def retention_for(learner) -> float:
    """The learner's desired retention, or the site's (FSRS_DESIRED_RETENTION)."""
    value = getattr(learner, "desired_retention", None)
    return float(value) if value is not None else float(settings.FSRS_DESIRED_RETENTION)


@lru_cache(maxsize=32)
def scheduler(desired_retention: float = 0.9) -> Scheduler:
    return Scheduler(desired_retention=desired_retention, enable_fuzzing=False)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc)


def new_card(now: dt.datetime) -> CardState:
    return CardState(
        state=State.Learning, step=0, stability=None, difficulty=None, due_at=now, last_reviewed_at=None
    )


def _to_card(card: CardState) -> Card:
    # card_id given: the library would otherwise sleep a millisecond to make one.
    return Card(
        card_id=1,
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=_utc(card.due_at),
        last_review=_utc(card.last_reviewed_at) if card.last_reviewed_at else None,
    )


def _from_card(card: Card) -> CardState:
    return CardState(
        state=int(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due_at=card.due,
        last_reviewed_at=card.last_review,
    )


def review(card: CardState, rating: Rating, *, now: dt.datetime, desired_retention: float) -> CardState:
    """The card after one review with ``rating`` at ``now``."""
    reviewed, _ = scheduler(desired_retention).review_card(_to_card(card), Rating(rating), _utc(now))
    return _from_card(reviewed)


def preview(card: CardState, *, now: dt.datetime, desired_retention: float) -> dict[Rating, dt.timedelta]:
    """For each rating, how long until the card would come back."""
    return {
        rating: review(card, rating, now=now, desired_retention=desired_retention).due_at - now
        for rating in Rating
    }


def replay(
    reviews: list[tuple[dt.datetime, Rating]], *, desired_retention: float, start: dt.datetime
) -> CardState:
    """The card after the reviews, oldest first, from new."""
    card = new_card(start)
    for reviewed_at, rating in reviews:
        card = review(card, rating, now=reviewed_at, desired_retention=desired_retention)
    return card


def interval_label(delta: dt.timedelta) -> str:
    """A short human interval: "10 min", "5 h", "1 d", "3 mo", "1.2 y"."""
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{round(minutes / 60)} h"
    days = round(minutes / (24 * 60))
    if days < 60:
        return f"{days} d"
    if days < 365:
        return f"{round(days / 30)} mo"
    return f"{days / 365:.1f} y"
