import datetime as dt

from tutor import charts

D = dt.date(2026, 3, 1)


def test_points_are_placed_by_date_and_value():
    chart = charts.line_chart(
        title="Grades", values=[(D, 0.0), (D + dt.timedelta(days=10), 100.0)], y_max=100, start=D, end=D + dt.timedelta(days=10)
    )
    first, last = chart.points
    assert (first.x, first.y) == (chart.left, chart.bottom)
    assert (last.x, last.y) == (chart.right, chart.top)
    assert chart.polyline.startswith(f"{chart.left:.1f},{chart.bottom:.1f}")


def test_a_value_halfway_sits_halfway_up():
    chart = charts.line_chart(title="t", values=[(D, 50.0)], y_max=100, start=D, end=D + dt.timedelta(days=2))
    assert chart.points[0].y == (chart.top + chart.bottom) / 2
    assert [t.label for t in chart.y_ticks] == ["0", "50", "100"]


def test_an_empty_series_is_an_empty_chart():
    chart = charts.line_chart(title="t", values=[])
    assert chart.is_empty and chart.polyline == "" and chart.area == ""


def test_cumulative_counts_carry_forward():
    series = charts.cumulative_by_day([D, D, D + dt.timedelta(days=2)], start=D, end=D + dt.timedelta(days=3), initial=5)
    assert [v for _, v in series] == [7.0, 7.0, 8.0, 8.0]


def test_the_streak_counts_back_from_today_or_yesterday():
    days = {D, D - dt.timedelta(days=1), D - dt.timedelta(days=2), D - dt.timedelta(days=4)}
    assert charts.streak_days(days, today=D) == 3
    assert charts.streak_days(days, today=D + dt.timedelta(days=1)) == 3
    assert charts.streak_days(days, today=D + dt.timedelta(days=2)) == 0


def test_the_outer_date_labels_stay_inside_the_chart():
    chart = charts.line_chart(title="t", values=[(D, 1.0)], start=D, end=D + dt.timedelta(days=10))
    assert [t.anchor for t in chart.x_ticks] == ["start", "middle", "end"]
