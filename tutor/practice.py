"""Record a learner's practice of a word: the one writer of WordProgress."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from tutor import srs
from tutor.models import Review, WordProgress


@transaction.atomic
def word_practice_record(
    *,
    learner,
    word,
    outcome: str,
    source: str = Review.Source.FLASHCARD,
    session=None,
    now: dt.datetime | None = None,
) -> WordProgress:
    """Apply one review (``correct``/``hesitant``/``incorrect``) to the learner's progress.

    Also logs the review, so streaks, charts and recaps have the history.
    """
    quality = srs.outcome_quality(outcome)
    now = now or timezone.now()
    progress, _ = WordProgress.objects.select_for_update().get_or_create(
        learner=learner, word=word, defaults={"due_at": now}
    )
    schedule = srs.next_schedule(
        repetitions=progress.repetitions,
        interval_days=progress.interval_days,
        ease=progress.ease,
        quality=quality,
        now=now,
    )
    progress.repetitions = schedule.repetitions
    progress.interval_days = schedule.interval_days
    progress.ease = schedule.ease
    progress.due_at = schedule.due_at
    progress.last_result = outcome
    progress.last_reviewed_at = now
    if quality >= 3:
        progress.correct_count += 1
    else:
        progress.incorrect_count += 1
    if schedule.interval_days >= srs.MASTERED_INTERVAL_DAYS:
        progress.mastered_at = progress.mastered_at or now
    else:
        progress.mastered_at = None
    progress.save()
    Review.objects.create(
        learner=learner, word=word, outcome=outcome, source=source, session=session, reviewed_at=now
    )
    return progress
