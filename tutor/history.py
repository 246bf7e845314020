"""Selectors for the learner's history: grade and mastery charts, the streak and the activity
calendar (both from reviews: a day counts when a word was practised), the day's goal, and
past sessions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone

from common import clock
from tutor import charts
from tutor.models import ConversationItem, Review, TestResult, TutorSession, WordProgress
from tutor.recap import practised_counts

CHART_DAYS = 60


@dataclass
class History:
    grades: charts.LineChart
    mastered: charts.LineChart
    streak: int
    sessions: list[TutorSession]
    heatmap: charts.Heatmap | None = None
    goal: charts.GoalRing | None = None


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def grade_chart(*, learner, today: dt.date) -> charts.LineChart:
    earliest = today - dt.timedelta(days=CHART_DAYS)
    results = TestResult.objects.filter(learner=learner, taken_at__date__gte=earliest).order_by("taken_at")
    values = [(_local_day(r.taken_at), float(r.percent)) for r in results]
    start = charts.axis_start(values[0][0] if values else None, today=today, earliest=earliest)
    return charts.line_chart(title="Test grades", values=values, y_max=100, y_suffix="%", start=start, end=today)


def mastered_chart(*, learner, today: dt.date) -> charts.LineChart:
    earliest = today - dt.timedelta(days=CHART_DAYS)
    mastered = WordProgress.objects.filter(learner=learner, mastered_at__isnull=False)
    before = mastered.filter(mastered_at__date__lt=earliest).count()
    days = [_local_day(m) for m in mastered.filter(mastered_at__date__gte=earliest).values_list("mastered_at", flat=True)]
    if not days and not before:
        return charts.line_chart(title="Words mastered", values=[])
    start = charts.axis_start(earliest if before else min(days), today=today, earliest=earliest)
    series = charts.cumulative_by_day(days, start=start, end=today, initial=before)
    return charts.line_chart(title="Words mastered", values=series, start=start, end=today)


def activity_days(*, learner, today: dt.date) -> set[dt.date]:
    """The days with practice: at least one review (flashcards, a test or the tutor's
    recordings). A voice session that practised nothing is not a day of practice."""
    since = today - dt.timedelta(days=366)
    return set(Review.objects.filter(learner=learner, reviewed_at__date__gte=since).dates("reviewed_at", "day"))


def reviews_by_day(*, learner, since: dt.date) -> dict[dt.date, int]:
    rows = (
        Review.objects.filter(learner=learner, reviewed_at__date__gte=since)
        .annotate(day=TruncDate("reviewed_at"))
        .values("day")
        .annotate(count=Count("id"))
    )
    return {row["day"]: row["count"] for row in rows}


def words_practised_today(*, learner, today: dt.date) -> int:
    """Distinct words reviewed today: what the daily goal counts."""
    return (
        Review.objects.filter(learner=learner, reviewed_at__date=today)
        .values("word_id")
        .distinct()
        .count()
    )


def past_sessions(*, learner, limit: int = 10) -> list[TutorSession]:
    """The learner's last sessions with a call, each with ``item_count`` (its turns: tool
    activity is not a turn) and ``words_practised`` (counted as its recap counts them: tool
    recordings and words heard in the transcript)."""
    sessions = list(
        TutorSession.objects.filter(learner=learner, connected_at__isnull=False)
        .annotate(item_count=Count("items", filter=Q(items__kind=ConversationItem.Kind.MESSAGE), distinct=True))
        .order_by("-connected_at")[:limit]
    )
    practised = practised_counts(sessions=sessions)
    for session in sessions:
        session.words_practised = practised[session.pk]
    return sessions


def learner_history(*, learner, now: dt.datetime | None = None) -> History:
    today = timezone.localtime(now or clock.now()).date()
    since = today - dt.timedelta(weeks=charts.HEATMAP_WEEKS)
    return History(
        grades=grade_chart(learner=learner, today=today),
        mastered=mastered_chart(learner=learner, today=today),
        streak=charts.streak_days(activity_days(learner=learner, today=today), today=today),
        sessions=past_sessions(learner=learner),
        heatmap=charts.activity_heatmap(reviews_by_day(learner=learner, since=since), today=today),
        goal=charts.goal_ring(done=words_practised_today(learner=learner, today=today), goal=learner.daily_goal_words),
    )


def learner_session_get(*, learner, session_id: int) -> TutorSession:
    """A session of this learner's, or 404: nobody reads another learner's transcript."""
    return get_object_or_404(TutorSession.objects.filter(learner=learner), pk=session_id)
