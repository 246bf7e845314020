"""Who needs help: each learner's standing, and the class overview built from it.

``learners_with_standing`` adds to ``learners_with_progress`` the words overdue and the
average grades of the last two fortnights, still one query for any number of learners.
``attention_reasons`` reads those numbers and says why a learner needs attention:

- inactive: nothing (sign-in, review or voice session) for ``INACTIVE_DAYS`` days, or never;
- overdue: more than ``settings.CLASS_OVERDUE_THRESHOLD`` words overdue, where a word is
  overdue once its review is ``OVERDUE_AFTER`` late;
- grades falling: the last fortnight's average grade is ``GRADE_DROP_POINTS`` or more below
  the fortnight's before.

``class_overview`` is the class page's data in a fixed number of queries, whatever the class
size: the learners (one query), this week's sessions (one), the chart (two).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Avg, Count, FloatField, IntegerField, Q, QuerySet
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from accounts.models import User
from staff.progress import (
    assigned_progress,
    assigned_word_count,
    learners_with_progress,
    per_learner,
)
from tutor import charts
from tutor.models import Classroom, TestResult, TutorSession, Word, WordProgress
from tutor.srs import MASTERED_INTERVAL_DAYS
from voice.metering import session_seconds_between

INACTIVE_DAYS = 7
OVERDUE_AFTER = dt.timedelta(days=1)
GRADE_WINDOW = dt.timedelta(days=14)
GRADE_DROP_POINTS = 10.0
CHART_DAYS = 30

SORTS = {
    "name": lambda row: row.learner.name.casefold(),
    "mastered": lambda row: row.mastered,
    "due": lambda row: row.due,
    "overdue": lambda row: row.overdue,
    "minutes": lambda row: row.minutes_this_week,
    "active": lambda row: row.last_active or dt.datetime.min.replace(tzinfo=dt.UTC),
    "grade": lambda row: -1.0 if row.average_grade is None else row.average_grade,
    "trend": lambda row: -1000.0 if row.trend is None else row.trend,
    "attention": lambda row: len(row.reasons),
}


def _percent():
    return Avg(Cast("score", FloatField()) * 100.0 / Cast("max_score", FloatField()))


def learners_with_standing(queryset: QuerySet[User], *, now: dt.datetime) -> QuerySet[User]:
    """``learners_with_progress`` plus ``_overdue``, ``_recent_grade`` and ``_previous_grade``."""
    overdue = assigned_progress().filter(WordProgress.due_q(now - OVERDUE_AFTER))
    recent = TestResult.objects.filter(taken_at__gt=now - GRADE_WINDOW)
    previous = TestResult.objects.filter(
        taken_at__gt=now - 2 * GRADE_WINDOW, taken_at__lte=now - GRADE_WINDOW
    )
    return learners_with_progress(queryset, now=now).annotate(
        _overdue=Coalesce(per_learner(overdue, Count("pk"), IntegerField()), 0),
        _recent_grade=per_learner(recent, _percent(), FloatField()),
        _previous_grade=per_learner(previous, _percent(), FloatField()),
    )


def grade_trend(learner: User) -> float | None:
    if learner._recent_grade is None or learner._previous_grade is None:
        return None
    return learner._recent_grade - learner._previous_grade


def attention_reasons(learner: User, *, now: dt.datetime) -> list[str]:
    """Why ``learner`` (from ``learners_with_standing``) needs attention; empty if they don't."""
    reasons = []
    if learner._last_active is None:
        reasons.append("never active")
    elif learner._last_active < now - dt.timedelta(days=INACTIVE_DAYS):
        days = (now - learner._last_active).days
        reasons.append(f"inactive for {days} days")
    threshold = settings.CLASS_OVERDUE_THRESHOLD
    if learner._overdue > threshold:
        reasons.append(f"{learner._overdue} words overdue (more than {threshold})")
    trend = grade_trend(learner)
    if trend is not None and trend <= -GRADE_DROP_POINTS:
        reasons.append(
            f"grades falling ({learner._previous_grade:.0f}% → {learner._recent_grade:.0f}%)"
        )
    return reasons


def learner_word_states(learner: User, *, now: dt.datetime) -> dict[str, int]:
    """Words in ``learner``'s assigned lists by state (two queries)."""
    assigned = Word.objects.filter(word_list__assignments__learner=learner).count()
    counts = assigned_progress().filter(learner=learner, last_reviewed_at__isnull=False).aggregate(
        mastered=Count("pk", filter=Q(interval_days__gte=MASTERED_INTERVAL_DAYS)),
        reviewed=Count("pk"),
    )
    return {
        "assigned": assigned,
        "mastered": counts["mastered"],
        "learning": counts["reviewed"] - counts["mastered"],
        "new": max(0, assigned - counts["reviewed"]),
    }


@dataclass
class OverviewRow:
    learner: User
    assigned: int
    mastered: int
    due: int
    overdue: int
    minutes_this_week: float
    last_active: dt.datetime | None
    average_grade: float | None
    trend: float | None
    reasons: list[str] = field(default_factory=list)

    @property
    def mastered_percent(self) -> int:
        return round(100 * self.mastered / self.assigned) if self.assigned else 0

    @property
    def trend_label(self) -> str:
        if self.trend is None:
            return "—"
        if abs(self.trend) < 1:
            return "steady"
        return f"{'▲' if self.trend > 0 else '▼'} {abs(self.trend):.0f}"


@dataclass
class ClassOverview:
    classroom: Classroom
    rows: list[OverviewRow]
    chart: charts.LineChart
    sort: str
    descending: bool

    @property
    def needing_attention(self) -> int:
        return sum(1 for row in self.rows if row.reasons)


def week_start(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    monday = local - dt.timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def _minutes_this_week(learners: QuerySet[User], *, now: dt.datetime) -> dict[int, float]:
    start = week_start(now)
    sessions = TutorSession.objects.filter(
        learner__in=learners.values("pk"), minted_at__gte=start
    ).only("learner_id", "minted_at", "connected_at", "ended_at", "hangup_at", "status",
           "keys_unreported")
    seconds: dict[int, float] = {}
    for session in sessions:
        seconds[session.learner_id] = seconds.get(session.learner_id, 0.0) + session_seconds_between(
            session, start, now
        )
    return {pk: value / 60 for pk, value in seconds.items()}


def mastered_chart(learners: QuerySet[User], *, today: dt.date) -> charts.LineChart:
    """Words the class has mastered, a running total over the last ``CHART_DAYS`` days."""
    title = "Words mastered by the class"
    start = today - dt.timedelta(days=CHART_DAYS)
    mastered = WordProgress.objects.filter(
        learner__in=learners.values("pk"), mastered_at__isnull=False
    )
    tz = timezone.get_current_timezone()
    first = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    before = mastered.filter(mastered_at__lt=first).count()
    per_day = (
        mastered.filter(mastered_at__gte=first)
        .annotate(day=TruncDate("mastered_at", tzinfo=tz))
        .order_by()
        .values("day")
        .annotate(count=Count("pk"))
    )
    days = [row["day"] for row in per_day for _ in range(row["count"])]
    if not days and not before:
        return charts.line_chart(title=title, values=[])
    series = charts.cumulative_by_day(days, start=start, end=today, initial=before)
    return charts.line_chart(title=title, values=series, start=start, end=today)


def class_overview(
    *, classroom: Classroom, now: dt.datetime, sort: str = "attention", descending: bool = True
) -> ClassOverview:
    """Every learner of ``classroom`` with their standing, sorted by ``sort`` (a ``SORTS`` key)."""
    learners = classroom.learners.all()
    annotated = learners_with_standing(learners.order_by(), now=now).annotate(
        _assigned=Coalesce(assigned_word_count(), 0)
    )
    minutes = _minutes_this_week(learners, now=now)
    rows = [
        OverviewRow(
            learner=learner,
            assigned=learner._assigned,
            mastered=learner._mastered,
            due=learner._due,
            overdue=learner._overdue,
            minutes_this_week=round(minutes.get(learner.pk, 0.0), 1),
            last_active=learner._last_active,
            average_grade=learner._average_grade,
            trend=grade_trend(learner),
            reasons=attention_reasons(learner, now=now),
        )
        for learner in annotated
    ]
    sort = sort if sort in SORTS else "attention"
    rows.sort(key=lambda row: row.learner.name.casefold())
    rows.sort(key=SORTS[sort], reverse=descending)
    chart = mastered_chart(learners, today=timezone.localtime(now).date())
    return ClassOverview(
        classroom=classroom, rows=rows, chart=chart, sort=sort, descending=descending
    )
