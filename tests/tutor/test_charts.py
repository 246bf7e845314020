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


def test_a_count_axis_has_whole_number_ticks():
    for largest, expected in [(1, [0, 1]), (2, [0, 1, 2]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (37, [0, 10, 20, 30, 40])]:
        chart = charts.line_chart(title="t", values=[(D, float(largest))], start=D, end=D + dt.timedelta(days=7))
        assert [t.label for t in chart.y_ticks] == [str(n) for n in expected], largest


def test_an_axis_starts_at_its_first_data_but_spans_a_week():
    today = D + dt.timedelta(days=30)
    assert charts.axis_start(D + dt.timedelta(days=20), today=today, earliest=D) == D + dt.timedelta(days=20)
    assert charts.axis_start(today, today=today, earliest=D) == today - dt.timedelta(days=6)
    assert charts.axis_start(D - dt.timedelta(days=5), today=today, earliest=D) == D


def test_the_heatmap_has_twelve_weekly_columns_ending_today():
    today = dt.date(2026, 12, 1)  # a Tuesday
    heatmap = charts.activity_heatmap({today: 2, today - dt.timedelta(days=1): 1}, today=today)
    columns = sorted({cell.x for cell in heatmap.cells})
    assert len(columns) == 12
    assert len(heatmap.cells) == 11 * 7 + 2  # this week so far: Monday and Tuesday
    assert heatmap.cells[-1].label == "Dec 1: 2 reviews" and heatmap.cells[-1].level == 4
    assert heatmap.cells[-2].label == "Nov 30: 1 review" and 1 <= heatmap.cells[-2].level < 4
    assert all(cell.level == 0 for cell in heatmap.cells[:-2])


def test_the_goal_ring_fills_up_to_the_goal_and_no_further():
    assert charts.goal_ring(done=0, goal=10).dash.startswith("0.0 ")
    half = charts.goal_ring(done=5, goal=10)
    assert half.fraction == 0.5 and not half.reached
    over = charts.goal_ring(done=25, goal=10)
    assert over.fraction == 1.0 and over.reached
