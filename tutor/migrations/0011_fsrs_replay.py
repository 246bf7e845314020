"""Replay each learner-word's review history through FSRS, so existing learners keep a
sensible schedule. Words with no history start new.

Self-contained (the ``fsrs`` package and the historical models only): the app's code
may change, this migration must not. Also applies the rule "one scheduled review per
word per voice session" to the history: a word's later reviews in the same session are
marked unscheduled and do not move the replayed schedule.
"""

import datetime as dt

from django.conf import settings
from django.db import migrations

BATCH = 2000
MASTERED_INTERVAL_DAYS = 21
OUTCOME_RATING = {"correct": 3, "hesitant": 2, "incorrect": 1}


def _scheduler(retention, cache={}):
    from fsrs import Scheduler

    if retention not in cache:
        cache[retention] = Scheduler(desired_retention=retention, enable_fuzzing=False)
    return cache[retention]


def replay_word(scheduler, reviews):
    """The FSRS card after ``reviews`` (oldest first: (reviewed_at, rating)), from new."""
    from fsrs import Card, Rating

    card = None
    for reviewed_at, rating in reviews:
        reviewed_at = reviewed_at.astimezone(dt.timezone.utc)
        if card is None:
            card = Card(card_id=1, due=reviewed_at)
        card, _ = scheduler.review_card(card, Rating(rating), reviewed_at)
    return card


def replay(apps, schema_editor):
    Review = apps.get_model("tutor", "Review")
    WordProgress = apps.get_model("tutor", "WordProgress")
    User = apps.get_model("accounts", "User")
    db = schema_editor.connection.alias

    for outcome, rating in OUTCOME_RATING.items():
        Review.objects.using(db).filter(rating__isnull=True, outcome=outcome).update(rating=rating)
    default = float(getattr(settings, "FSRS_DESIRED_RETENTION", 0.9))
    retention = {
        pk: (value if value is not None else default)
        for pk, value in User.objects.using(db).values_list("pk", "desired_retention")
    }
    # Words with no history start new; replayed ones are overwritten below.
    WordProgress.objects.using(db).update(
        card_state=1, step=0, stability=None, difficulty=None, interval_days=0, repetitions=0
    )
    progress = {
        (learner_id, word_id): pk
        for pk, learner_id, word_id in WordProgress.objects.using(db).values_list(
            "pk", "learner_id", "word_id"
        )
    }
    mastered_at = dict(
        WordProgress.objects.using(db)
        .filter(mastered_at__isnull=False)
        .values_list("pk", "mastered_at")
    )

    rows = (
        Review.objects.using(db)
        .order_by("learner_id", "word_id", "reviewed_at", "pk")
        .values_list("pk", "learner_id", "word_id", "session_id", "outcome", "rating", "reviewed_at")
        .iterator(chunk_size=BATCH)
    )
    to_update, to_create, unscheduled = [], [], []

    def rewrite(rows):
        # Every field is known, and nothing points at a WordProgress row: deleting and
        # inserting again (same ids) is far faster than bulk_update's CASE per field.
        WordProgress.objects.using(db).filter(pk__in=[row.pk for row in rows]).delete()
        WordProgress.objects.using(db).bulk_create(rows, batch_size=500)
        rows.clear()

    def flush(key, history):
        learner_id, word_id = key
        card = replay_word(_scheduler(retention.get(learner_id, default)), history["reviews"])
        interval = max(0, (card.due - card.last_review).days)
        pk = progress.get(key)
        row = WordProgress(
            pk=pk,
            learner_id=learner_id,
            word_id=word_id,
            card_state=int(card.state),
            step=card.step,
            stability=card.stability,
            difficulty=card.difficulty,
            due_at=card.due,
            last_reviewed_at=card.last_review,
            interval_days=interval,
            repetitions=len(history["reviews"]),
            correct_count=history["correct"],
            incorrect_count=history["incorrect"],
            last_result=history["last"],
            mastered_at=(
                (mastered_at.get(pk) or card.last_review) if interval >= MASTERED_INTERVAL_DAYS else None
            ),
        )
        (to_update if pk else to_create).append(row)
        if len(to_update) >= BATCH:
            rewrite(to_update)

    key, history, seen_sessions = None, None, set()
    for pk, learner_id, word_id, session_id, outcome, rating, reviewed_at in rows:
        if (learner_id, word_id) != key:
            if key is not None:
                flush(key, history)
            key = (learner_id, word_id)
            history = {"reviews": [], "correct": 0, "incorrect": 0, "last": ""}
            seen_sessions = set()
        if session_id is not None:
            if session_id in seen_sessions:
                unscheduled.append(pk)
                continue
            seen_sessions.add(session_id)
        rating = rating or OUTCOME_RATING[outcome]
        history["reviews"].append((reviewed_at, rating))
        history["correct" if rating > 1 else "incorrect"] += 1
        history["last"] = outcome
    if key is not None:
        flush(key, history)
    if to_update:
        rewrite(to_update)
    if to_create:
        WordProgress.objects.using(db).bulk_create(to_create, batch_size=BATCH)
    for start in range(0, len(unscheduled), BATCH):
        Review.objects.using(db).filter(pk__in=unscheduled[start : start + BATCH]).update(scheduled=False)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_desired_retention"),
        ("tutor", "0010_fsrs_cards"),
    ]

    operations = [migrations.RunPython(replay, migrations.RunPython.noop)]
