"""Record a learner's practice of a word: the one writer of WordProgress.

Every piece of evidence is one FSRS rating (docs/ratings.md). Within one voice session
only a word's first evidence moves its schedule: repeating a word ten times in a
conversation is one review, not ten. Later evidence is kept as history
(``Review.scheduled = False``) for the recap.
"""

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
    outcome: str | None = None,
    rating: int | None = None,
    clear: bool | None = None,
    source: str = Review.Source.FLASHCARD,
    session=None,
    now: dt.datetime | None = None,
) -> WordProgress:
    """Apply one review to the learner's progress: a ``rating`` (1-4, Again..Easy) or an
    ``outcome`` (``correct`` -> Good, ``hesitant`` -> Hard, ``incorrect`` -> Again).

    ``clear`` (how clearly the word was said; None when unknown) turns a correct outcome
    said unclearly into Hard (``srs.outcome_rating``) and is kept on the Review for the recap.
    Also logs the review, so streaks, charts and recaps have the history.
    """
    if rating is None:
        if outcome is None:
            raise ValueError("an outcome or a rating is required")
        rating = srs.outcome_rating(outcome, clear=clear)
    else:
        rating = srs.Rating(rating)
        outcome = outcome or srs.RATING_OUTCOME[rating]
    if outcome not in WordProgress.Result.values:
        raise ValueError(f"unknown outcome {outcome!r}")
    now = now or clock.now()
    progress, _ = WordProgress.objects.select_for_update().get_or_create(
        learner=learner, word=word, defaults={"due_at": now}
    )
    # The progress row is locked: two parallel calls for one word in one session see each other.
    scheduled = session is None or not Review.objects.filter(
        learner=learner, word=word, session=session, scheduled=True
    ).exists()
    if scheduled:
        card = srs.review(progress.card, rating, now=now, desired_retention=srs.retention_for(learner))
        progress.card_set(card)
        progress.repetitions += 1
        progress.last_result = outcome
        if rating == srs.Rating.Again:
            progress.incorrect_count += 1
        else:
            progress.correct_count += 1
        if progress.is_mastered:
            progress.mastered_at = progress.mastered_at or now
        else:
            progress.mastered_at = None
        progress.save()
    Review.objects.create(
        learner=learner,
        word=word,
        outcome=outcome,
        rating=int(rating),
        scheduled=scheduled,
        clear=clear,
        source=source,
        session=session,
        reviewed_at=now,
    )
    return progress


@transaction.atomic
def term_practice_record(
    *,
    learner,
    words: list,
    outcome: str | None = None,
    rating: int | None = None,
    clear: bool | None = None,
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
            learner=learner,
            word=word,
            outcome=outcome,
            rating=rating,
            clear=clear,
            source=source,
            session=session,
            now=now,
        )
        for word in words
    ]
    return progress[0]
