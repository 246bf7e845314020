"""Small server-rendered SVG charts: pure geometry, no JavaScript.

``line_chart`` turns dated values into the coordinates a template draws
(``templates/tutor/_line_chart.html``), ``activity_heatmap`` a calendar of practice
(``templates/tutor/_heatmap.html``) and ``goal_ring`` the day's goal
(``templates/tutor/_goal_ring.html``), so the page needs no chart library and works
without scripts.

The line chart's drawing is about as wide as a phone's screen (``WIDTH`` user units for
some 330 px), so its 12-unit axis text stays legible there and is larger on a desktop.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

WIDTH = 360
HEIGHT = 180
PAD_LEFT = 40
PAD_RIGHT = 10
PAD_TOP = 12
PAD_BOTTOM = 26
MIN_SPAN_DAYS = 6  # an axis covers at least a week, so one point is not a whole chart
NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the first and last x labels stay inside


@dataclass
class LineChart:
    title: str
    points: list[ChartPoint]
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    right: int = WIDTH - PAD_RIGHT
    top: int = PAD_TOP
    bottom: int = HEIGHT - PAD_BOTTOM

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def area(self) -> str:
        if not self.points:
            return ""
        first, last = self.points[0], self.points[-1]
        return f"{first.x:.1f},{self.bottom} {self.polyline} {last.x:.1f},{self.bottom}"

    @property
    def is_empty(self) -> bool:
        return not self.points


def line_chart(
    *,
    title: str,
    values: list[tuple[dt.date, float]],
    y_max: float | None = None,
    y_suffix: str = "",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> LineChart:
    """Place dated values on a chart; the x axis is time, so gaps show as gaps.

    Without ``y_max`` the values are counts: the axis ends at a round number and its ticks
    are whole numbers.
    """
    chart = LineChart(title=title, points=[])
    if not values:
        return chart
    values = sorted(values)
    start = start or values[0][0]
    end = end or values[-1][0]
    span_days = max((end - start).days, 1)
    if y_max is None:
        top_value, tick_values = integer_ticks(max(v for _, v in values))
    else:
        top_value, tick_values = y_max, [y_max * f for f in (0, 0.5, 1)]
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top

    def x_at(day: dt.date) -> float:
        return chart.left + plot_w * ((day - start).days / span_days)

    def y_at(value: float) -> float:
        return chart.bottom - plot_h * (min(value, top_value) / top_value)

    chart.points = [
        ChartPoint(x_at(day), y_at(value), f"{day:%b %-d}: {value:g}{y_suffix}") for day, value in values
    ]
    chart.y_ticks = [Tick(y_at(value), f"{value:g}{y_suffix}") for value in tick_values]
    middle = start + dt.timedelta(days=span_days // 2)
    days = sorted({start, middle, end})
    chart.x_ticks = [
        Tick(x_at(d), f"{d:%b %-d}", "start" if d == start else "end" if d == end else "middle") for d in days
    ]
    return chart


def integer_ticks(largest: float, *, most: int = 4) -> tuple[int, list[int]]:
    """The top of a count axis and its ticks: whole numbers, at most ``most`` steps."""
    largest = max(math.ceil(largest), 1)
    step = next((n for n in NICE_STEPS if n * most >= largest), math.ceil(largest / most))
    top = step * math.ceil(largest / step)
    return top, list(range(0, top + 1, step))


def axis_start(first_data: dt.date | None, *, today: dt.date, earliest: dt.date) -> dt.date:
    """Where a time axis ending ``today`` starts: at the first data (not ``earliest``, the
    window's edge), and at least ``MIN_SPAN_DAYS`` before today."""
    first = max(first_data or today, earliest)
    return min(first, today - dt.timedelta(days=MIN_SPAN_DAYS))


def cumulative_by_day(
    days: list[dt.date], *, start: dt.date, end: dt.date, initial: int = 0
) -> list[tuple[dt.date, float]]:
    """Running total of events per day from ``start`` to ``end`` inclusive."""
    per_day: dict[dt.date, int] = {}
    for day in days:
        per_day[day] = per_day.get(day, 0) + 1
    total = initial
    series = []
    day = start
    while day <= end:
        total += per_day.get(day, 0)
        series.append((day, float(total)))
        day += dt.timedelta(days=1)
    return series


def streak_days(activity_days: set[dt.date], *, today: dt.date) -> int:
    """Consecutive days with practice ending today (or yesterday, if today is still open)."""
    day = today if today in activity_days else today - dt.timedelta(days=1)
    streak = 0
    while day in activity_days:
        streak += 1
        day -= dt.timedelta(days=1)
    return streak


@dataclass(frozen=True)
class HeatCell:
    x: int
    y: int
    level: int  # 0 (nothing) to 4 (the busiest days)
    label: str


@dataclass
class Heatmap:
    cells: list[HeatCell]
    months: list[Tick]
    days_active: int
    width: int
    height: int
    cell: int = 12


HEATMAP_WEEKS = 12
HEAT_CELL = 12
HEAT_GAP = 3
HEAT_LEFT = 28  # room for the weekday labels
HEAT_TOP = 16  # room for the month labels


def activity_heatmap(counts: dict[dt.date, int], *, today: dt.date, weeks: int = HEATMAP_WEEKS) -> Heatmap:
    """The last ``weeks`` weeks as a calendar: a column per week (Monday on top), a cell per
    day shaded by how many reviews it had, up to today."""
    pitch = HEAT_CELL + HEAT_GAP
    first = today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)
    busiest = max([counts.get(first + dt.timedelta(days=n), 0) for n in range((today - first).days + 1)] + [0])
    cells: list[HeatCell] = []
    months: list[Tick] = []
    day = first
    while day <= today:
        column, row = (day - first).days // 7, day.weekday()
        count = counts.get(day, 0)
        level = 0 if not count else min(4, 1 + (3 * count) // max(busiest, 1))
        noun = "review" if count == 1 else "reviews"
        cells.append(HeatCell(HEAT_LEFT + column * pitch, HEAT_TOP + row * pitch, level, f"{day:%b %-d}: {count} {noun}"))
        if day.day == 1 or (day == first and day.day <= 21):
            months.append(Tick(HEAT_LEFT + column * pitch, f"{day:%b}", "start"))
        day += dt.timedelta(days=1)
    if len(months) > 1 and months[1].position - months[0].position < 2 * pitch:
        months.pop(0)  # the first month's label would run into the next one's
    return Heatmap(
        cells=cells,
        months=months,
        days_active=sum(1 for cell in cells if cell.level),
        width=HEAT_LEFT + weeks * pitch + 16,  # room for the last month's label
        height=HEAT_TOP + 7 * pitch,
        cell=HEAT_CELL,
    )


@dataclass(frozen=True)
class GoalRing:
    done: int
    goal: int
    radius: int = 42

    @property
    def circumference(self) -> float:
        return 2 * math.pi * self.radius

    @property
    def fraction(self) -> float:
        return min(self.done / self.goal, 1.0) if self.goal else 1.0

    @property
    def dash(self) -> str:
        """``stroke-dasharray`` of the ring's filled part."""
        filled = self.circumference * self.fraction
        return f"{filled:.1f} {self.circumference - filled + 0.1:.1f}"

    @property
    def reached(self) -> bool:
        return self.done >= self.goal


def goal_ring(*, done: int, goal: int) -> GoalRing:
    return GoalRing(done=done, goal=max(goal, 1))
