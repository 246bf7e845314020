"""Record a learner's practice of a word: the one writer of WordProgress."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from common import clock
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
    now = now or clock.now()
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


@transaction.atomic
def term_practice_record(
    *,
    learner,
    words: list,
    outcome: str,
    source: str = Review.Source.FLASHCARD,
    session=None,
    now: dt.datetime | None = None,
) -> WordProgress:
    """``word_practice_record`` for every copy of one term (``words``: the same term in several
    of the learner's lists is one piece of vocabulary, so all its copies move together); the
    progress of the first copy."""
    if not words:
        raise ValueError("no words to record")
    now = now or clock.now()
    progress = [
        word_practice_record(
            learner=learner, word=word, outcome=outcome, source=source, session=session, now=now
        )
        for word in words
    ]
    return progress[0]
