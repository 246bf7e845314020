"""Per-learner progress numbers for staff pages, as correlated subqueries: one query for a
list of learners however long it is."""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    Exists,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Greatest, NullIf

from accounts.models import User
from tutor.models import Assignment, TestResult, TutorSession, Word, WordProgress
from tutor.srs import MASTERED_INTERVAL_DAYS

NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def per_learner(queryset: QuerySet, expression, output_field) -> Subquery:
    """One aggregate of ``queryset`` for the outer learner, as a correlated subquery."""
    return Subquery(
        queryset.filter(learner=OuterRef("pk"))
        .order_by()
        .values("learner")
        .annotate(value=expression)
        .values("value")[:1],
        output_field=output_field,
    )


def learners_with_progress(queryset: QuerySet[User], *, now: dt.datetime) -> QuerySet[User]:
    """Annotate each user with words mastered and due (in assigned lists), last activity and
    average grade, as subqueries: one query however many learners are listed.

    ``_last_active`` is the latest of the last login, last review and last voice session.
    """
    assigned = assigned_progress()
    reviewed = assigned.filter(last_reviewed_at__isnull=False)
    last_review = per_learner(WordProgress.objects.all(), Max("last_reviewed_at"), DateTimeField())
    last_session = per_learner(
        TutorSession.objects.all(),
        Max(Coalesce("ended_at", "connected_at", "minted_at")),
        DateTimeField(),
    )
    never = Value(NEVER, output_field=DateTimeField())
    return queryset.annotate(
        _mastered=Coalesce(
            per_learner(
                reviewed.filter(interval_days__gte=MASTERED_INTERVAL_DAYS),
                Count("pk"),
                IntegerField(),
            ),
            0,
        ),
        _due=Coalesce(
            per_learner(reviewed.filter(WordProgress.due_q(now)), Count("pk"), IntegerField()), 0
        ),
        # SQLite's MAX() is NULL if any argument is, so compare with a sentinel instead.
        _last_active=NullIf(
            Greatest(
                Coalesce("last_login", never),
                Coalesce(last_review, never),
                Coalesce(last_session, never),
            ),
            never,
        ),
        _average_grade=per_learner(
            TestResult.objects.all(),
            Avg(Cast("score", FloatField()) * 100.0 / Cast("max_score", FloatField())),
            FloatField(),
        ),
    )


def assigned_progress() -> QuerySet[WordProgress]:
    """Progress rows on words of lists assigned to their learner."""
    return WordProgress.objects.filter(
        Exists(
            Assignment.objects.filter(
                learner=OuterRef("learner"), word_list=OuterRef("word__word_list")
            )
        )
    )


def assigned_word_count() -> Subquery:
    """Words in the lists assigned to the outer learner."""
    return Subquery(
        Word.objects.filter(word_list__assignments__learner=OuterRef("pk"))
        .order_by()
        .values("word_list__assignments__learner")
        .annotate(value=Count("pk"))
        .values("value")[:1],
        output_field=IntegerField(),
    )
