"""The pictures' geometry: a run's Gantt, a year's calendar, duration bars — plain values, no I/O.

The templates draw these as inline SVG (no chart library, nothing from the network); each shape
carries its state as a ``s-<state>`` class, so the page's CSS colours it in light and dark mode.
Coordinates are in the SVG's own units: the SVG scales to its container's width.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median

from dagflow.store.chart_reads import RunSpan, TrySpan
from webui.timefmt import duration_words

#: The Gantt's plot width and row height; task labels are HTML beside it, so they never shrink.
GANTT_WIDTH = 1000
GANTT_ROW = 22
#: A calendar cell and the gap after it.
CELL, GAP = 12, 3
CALENDAR_LEFT, CALENDAR_TOP = 28, 16
#: Run states by how much a day's cell should say about them: one failed run colours the day.
DAY_PRIORITY = ("failed", "running", "queued", "success")
CHART_WIDTH, CHART_HEIGHT, CHART_LEFT, CHART_BOTTOM = 1000, 220, 70, 20


@dataclass(frozen=True)
class Bar:
    """One rectangle: position, size, its state (for the colour) and what hovering it says."""

    x: float
    y: float
    width: float
    height: float
    state: str
    title: str
    kind: str = ""


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class GanttRow:
    label: str
    bars: list[Bar]


@dataclass(frozen=True)
class Gantt:
    rows: list[GanttRow]
    ticks: list[Tick]
    width: int
    height: int
    start: datetime | None
    end: datetime | None


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def gantt(spans: Sequence[TrySpan], now: datetime) -> Gantt:
    """Each task instance a row (by when it first started), each try a queued and a running bar.

    A try still queued or running ends at ``now``.
    """
    times = [t for s in spans for t in (s.queued_at, s.start_date, s.end_date) if t is not None]
    if not times:
        return Gantt([], [], GANTT_WIDTH, 0, None, None)
    start = min(times)
    unfinished = any(s.end_date is None for s in spans)
    end = max([*times, now] if unfinished else times)
    total = max(_seconds(start, end), 0.001)
    scale = GANTT_WIDTH / total

    def x(at: datetime) -> float:
        return round(_seconds(start, at) * scale, 2)

    by_instance: dict[tuple[str, int], list[TrySpan]] = {}
    for span in spans:
        by_instance.setdefault((span.task_id, span.map_index), []).append(span)
    first = {k: min(t for s in v for t in (s.queued_at, s.start_date) if t) for k, v in by_instance.items()}
    rows = []
    for index, key in enumerate(sorted(by_instance, key=lambda k: (first[k], k))):
        top = index * GANTT_ROW + 3
        bars = [b for s in by_instance[key] for b in _try_bars(s, x, top, now)]
        label = key[0] if key[1] < 0 else f"{key[0]} [{key[1]}]"
        rows.append(GanttRow(label, bars))
    ticks = [Tick(x(start + timedelta(seconds=total * f)), duration_words(total * f)) for f in (0, 0.5, 1)]
    return Gantt(rows, ticks, GANTT_WIDTH, len(rows) * GANTT_ROW, start, end)


def _try_bars(span: TrySpan, place: Callable[[datetime], float], top: float, now: datetime) -> list[Bar]:
    height = GANTT_ROW - 6
    bars = []
    name = f"try {span.try_number}"
    if span.queued_at is not None:
        until = span.start_date or span.end_date or now
        left, right = place(span.queued_at), place(until)
        words = duration_words(_seconds(span.queued_at, until))
        bars.append(
            Bar(left, top, max(right - left, 1), height, "queued", f"{name} queued {words}", "queued")
        )
    if span.start_date is not None:
        until = span.end_date or now
        left, right = place(span.start_date), place(until)
        words = duration_words(_seconds(span.start_date, until))
        title = f"{name} {span.state}: ran {words}"
        bars.append(Bar(left, top, max(right - left, 2), height, span.state, title, "ran"))
    return bars


@dataclass(frozen=True)
class Calendar:
    year: int
    cells: list[Bar]
    months: list[Tick]
    width: int
    height: int
    total_runs: int
    #: The index of the cell of the year's latest day with runs: a screen too narrow scrolls to it.
    focus: int | None = None


def day_state(counts: dict[str, int]) -> str:
    """The state a day's cell shows: the most telling of its runs' states."""
    for state in DAY_PRIORITY:
        if counts.get(state):
            return state
    return next(iter(counts), "none")


def calendar(year: int, days: dict[date, dict[str, int]]) -> Calendar:
    """A cell per day of ``year`` (columns are weeks from Monday, as in a wall calendar)."""
    first = date(year, 1, 1)
    cells, months = [], []
    day = first
    while day.year == year:
        column = ((day - first).days + first.weekday()) // 7
        x = CALENDAR_LEFT + column * (CELL + GAP)
        y = CALENDAR_TOP + day.weekday() * (CELL + GAP)
        counts = days.get(day, {})
        words = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no runs"
        cells.append(Bar(x, y, CELL, CELL, day_state(counts) if counts else "none", f"{day}: {words}"))
        if day.day == 1:
            months.append(Tick(x, day.strftime("%b")))
        day += timedelta(days=1)
    width = CALENDAR_LEFT + (max(c.x for c in cells) - CALENDAR_LEFT) + CELL + GAP
    height = CALENDAR_TOP + 7 * (CELL + GAP)
    total = sum(sum(c.values()) for d, c in days.items() if d.year == year)
    latest = max((d for d in days if d.year == year), default=None)
    focus = (latest - first).days if latest else None
    return Calendar(year, cells, months, int(width), height, total, focus)


@dataclass(frozen=True)
class BarChart:
    """Bars over a plot ``plot_height`` high, from x = ``left`` to ``width`` (the axis labels are HTML)."""

    bars: list[Bar]
    ticks: list[Tick]
    width: int
    height: int
    left: int = CHART_LEFT
    plot_height: int = CHART_HEIGHT - CHART_BOTTOM


def _nice_max(value: float) -> float:
    """A round ceiling for an axis: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def run_duration_chart(runs: Sequence[RunSpan], now: datetime) -> BarChart:
    """A bar per run, height its duration (a running run: so far), coloured by its state."""
    plot_height = CHART_HEIGHT - CHART_BOTTOM
    durations = [_run_seconds(r, now) for r in runs]
    top = _nice_max(max((d for d in durations if d is not None), default=0))
    # a few runs keep narrow bars at the left, as in a chart of many runs, rather than wide slabs
    slot = min((CHART_WIDTH - CHART_LEFT) / max(len(runs), 1), 40)
    bars = []
    for index, (run, seconds) in enumerate(zip(runs, durations, strict=True)):
        height = 0.0 if seconds is None else max(plot_height * seconds / top, 1.5)
        words = "not started" if seconds is None else duration_words(seconds)
        bars.append(
            Bar(
                round(CHART_LEFT + index * slot + slot * 0.15, 2),
                round(plot_height - height, 2),
                round(slot * 0.7, 2),
                round(height, 2),
                run.state,
                f"{run.run_id}: {run.state}, {words}",
            )
        )
    ticks = [Tick(round(plot_height * (1 - f), 2), duration_words(top * f)) for f in (0, 0.5, 1)]
    return BarChart(bars, ticks, CHART_WIDTH, CHART_HEIGHT)


def _run_seconds(run: RunSpan, now: datetime) -> float | None:
    if run.start_date is None:
        return None
    return _seconds(run.start_date, run.end_date or now)


@dataclass(frozen=True)
class TaskDurations:
    """One task's durations over the runs, drawn as one SVG path of small bars (one element per task,
    not one per run: a 100-run x 50-task page stays small), with its longest, latest and median."""

    task_id: str
    path: str
    longest: str
    latest: str
    median: str


SPARK_WIDTH, SPARK_HEIGHT = 300, 28


def task_duration_rows(
    task_ids: Iterable[str], runs: Sequence[RunSpan], durations: dict[tuple[str, str], float]
) -> list[TaskDurations]:
    """Per task with a duration, a bar per run scaled to that task's longest duration."""
    rows = []
    slot = min(SPARK_WIDTH / max(len(runs), 1), 24)
    for task_id in task_ids:
        values = [durations.get((task_id, r.run_id)) for r in runs]
        known = [v for v in values if v is not None]
        if not known:
            continue
        top = max(known) or 1.0
        path = []
        for index, seconds in enumerate(values):
            if seconds is not None:
                height = max(SPARK_HEIGHT * seconds / top, 1.5)
                x, y = round(index * slot, 1), round(SPARK_HEIGHT - height, 1)
                path.append(f"M{x} {y}h{round(slot * 0.8, 1)}V{SPARK_HEIGHT}H{x}z")
        rows.append(
            TaskDurations(
                task_id,
                "".join(path),
                duration_words(top),
                duration_words(known[-1]),
                duration_words(median(known)),
            )
        )
    return rows


def utc_year(now: datetime) -> int:
    return now.astimezone(UTC).year
