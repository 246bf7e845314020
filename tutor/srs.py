"""SM-2 style spaced repetition, as pure functions over plain values.

Quality follows SM-2: 0..5, where 3 and above is a successful recall.
``outcome_quality`` maps the coarse outcomes the app records to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MIN_EASE = 1.3
MASTERED_INTERVAL_DAYS = 21

OUTCOME_QUALITY = {"correct": 5, "hesitant": 3, "incorrect": 1}


@dataclass(frozen=True)
class Schedule:
    repetitions: int
    interval_days: int
    ease: float
    due_at: dt.datetime


def outcome_quality(outcome: str) -> int:
    try:
        return OUTCOME_QUALITY[outcome]
    except KeyError:
        raise ValueError(f"unknown outcome {outcome!r}") from None


def next_schedule(
    *, repetitions: int, interval_days: int, ease: float, quality: int, now: dt.datetime
) -> Schedule:
    """The state after one review of the given quality (0..5)."""
    if not 0 <= quality <= 5:
        raise ValueError("quality must be between 0 and 5")
    new_ease = max(MIN_EASE, ease + (0.1 - (5 - quality) * (0.08 + (5 - quality) * 0.02)))
    if quality < 3:
        repetitions = 0
        interval_days = 1
    else:
        repetitions += 1
        if repetitions == 1:
            interval_days = 1
        elif repetitions == 2:
            interval_days = 6
        else:
            interval_days = max(1, round(interval_days * ease))
    return Schedule(
        repetitions=repetitions,
        interval_days=interval_days,
        ease=round(new_ease, 3),
        due_at=now + dt.timedelta(days=interval_days),
    )
