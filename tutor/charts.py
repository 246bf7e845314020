"""Small server-rendered SVG charts: pure geometry, no JavaScript.

``line_chart`` turns dated values into the coordinates a template draws
(``templates/tutor/_line_chart.html``), so the page needs no chart library
and works without scripts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

WIDTH = 560
HEIGHT = 200
PAD_LEFT = 36
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28


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
    """Place dated values on a chart; the x axis is time, so gaps show as gaps."""
    chart = LineChart(title=title, points=[])
    if not values:
        return chart
    values = sorted(values)
    start = start or values[0][0]
    end = end or values[-1][0]
    span_days = max((end - start).days, 1)
    top_value = y_max if y_max is not None else max(max(v for _, v in values), 1)
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top

    def x_at(day: dt.date) -> float:
        return chart.left + plot_w * ((day - start).days / span_days)

    def y_at(value: float) -> float:
        return chart.bottom - plot_h * (min(value, top_value) / top_value)

    chart.points = [
        ChartPoint(x_at(day), y_at(value), f"{day:%b %-d}: {value:g}{y_suffix}") for day, value in values
    ]
    chart.y_ticks = [Tick(y_at(top_value * f), f"{top_value * f:g}{y_suffix}") for f in (0, 0.5, 1)]
    middle = start + dt.timedelta(days=span_days // 2)
    days = sorted({start, middle, end})
    chart.x_ticks = [
        Tick(x_at(d), f"{d:%b %-d}", "start" if d == start else "end" if d == end else "middle") for d in days
    ]
    return chart


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
