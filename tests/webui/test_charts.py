"""The pictures' geometry, without a store: where each bar and cell goes and what it says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagflow.store.chart_reads import RunSpan, TrySpan
from webui import charts

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_day_with_a_failed_run_is_a_failed_day_whatever_else_ran():
    assert charts.day_state({"success": 3, "failed": 1}) == "failed"
    assert charts.day_state({"success": 3, "running": 1}) == "running"
    assert charts.day_state({"success": 2}) == "success"


def test_the_calendar_puts_days_in_week_columns_from_monday():
    drawing = charts.calendar(2026, {date(2026, 1, 5): {"success": 1}})
    cells = {cell.title.split(":")[0]: cell for cell in drawing.cells}
    assert len(cells) == 365
    thursday, monday = cells["2026-01-01"], cells["2026-01-05"]  # 1 January 2026 is a Thursday
    assert thursday.x == monday.x - (charts.CELL + charts.GAP)  # the next week's column
    assert monday.y < thursday.y  # Monday is the top row
    assert (monday.state, thursday.state) == ("success", "none")
    assert [m.label for m in drawing.months][:2] == ["Jan", "Feb"]
    assert drawing.total_runs == 1
    assert drawing.cells[drawing.focus or 0] is monday  # the latest day with runs


def test_a_gantt_row_per_task_instance_by_first_start_with_queued_and_running_bars_per_try():
    spans = [
        TrySpan("late", -1, 1, "success", at(50), at(60), at(70)),
        TrySpan("early", -1, 1, "failed", at(0), at(10), at(20)),
        TrySpan("early", -1, 2, "running", at(30), at(40), None),
    ]
    drawing = charts.gantt(spans, now=at(100))
    assert [row.label for row in drawing.rows] == ["early", "late"]
    early = drawing.rows[0].bars
    assert [(b.kind, b.state) for b in early] == [
        ("queued", "queued"),
        ("ran", "failed"),
        ("queued", "queued"),
        ("ran", "running"),
    ]
    assert early[-1].x + early[-1].width == charts.GANTT_WIDTH  # a running try lasts until now
    assert early[1].title == "try 1 failed: ran 10 s"
    assert [t.label for t in drawing.ticks] == ["0 s", "50 s", "1 min 40 s"]


def test_run_bars_are_as_tall_as_the_runs_were_long_against_a_round_axis():
    runs = [
        RunSpan("a", "success", T0, T0, T0, at(60)),
        RunSpan("b", "failed", T0, T0, T0, at(150)),
        RunSpan("c", "queued", T0, T0, None, None),
    ]
    chart = charts.run_duration_chart(runs, now=at(500))
    plot = charts.CHART_HEIGHT - charts.CHART_BOTTOM
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == round(plot * 60 / 200, 2) and heights[1] == round(plot * 150 / 200, 2)
    assert heights[2] == 0 and chart.bars[2].title == "c: queued, not started"
    assert chart.ticks[-1].label == "3 min 20 s"  # 150 s rounds up to 200 s


def test_a_tasks_durations_are_one_path_of_bars_scaled_to_its_longest_and_tasks_without_any_are_left_out():
    runs = [RunSpan(f"r{i}", "success", T0, T0, T0, T0) for i in range(3)]
    rows = charts.task_duration_rows(["a", "b"], runs, {("a", "r0"): 10.0, ("a", "r2"): 5.0})
    assert [row.task_id for row in rows] == ["a"]
    (row,) = rows
    assert row.path.count("M") == 2  # no bar for the run without a duration
    assert row.path.startswith("M0 0.0h")  # the longest reaches the top
    assert (row.longest, row.latest, row.median) == ("10 s", "5 s", "7.5 s")
