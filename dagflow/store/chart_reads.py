"""What the UI's pictures read: a run's tries over time, a DAG's runs by day, durations over recent runs.

Each function is one or two set-based queries bounded by what the picture shows (one run, one year
of one DAG, the last N runs); the pictures themselves are drawn in :mod:`webui.charts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dagflow.core.keys import RunKey
from dagflow.store.models import DagRunRow, TaskInstanceRow, TaskInstanceTryRow

TI = TaskInstanceRow
TRY = TaskInstanceTryRow


@dataclass(frozen=True)
class TrySpan:
    """One try of one task instance: when it was queued, started and ended (None: not yet)."""

    task_id: str
    map_index: int
    try_number: int
    state: str
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None


def run_try_spans(session: Session, *, run: RunKey) -> list[TrySpan]:
    """Every try of the run's task instances: the ended ones from the try history, plus each task
    instance's current try when the history does not hold it yet (queued or running now).

    Ordered by task id, map index and try number.
    """
    history = select(
        TRY.task_id, TRY.map_index, TRY.try_number, TRY.state, TRY.queued_at, TRY.start_date, TRY.end_date
    ).where(TRY.dag_id == run.dag_id, TRY.run_id == run.run_id)
    spans = [TrySpan(*row) for row in session.execute(history)]
    recorded = {(s.task_id, s.map_index, s.try_number) for s in spans}
    current = select(
        TI.task_id, TI.map_index, TI.try_number, TI.state, TI.queued_at, TI.start_date, TI.end_date
    ).where(TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.try_number > 0)
    for row in session.execute(current):
        span = TrySpan(*row)
        if (span.task_id, span.map_index, span.try_number) not in recorded and (
            span.queued_at or span.start_date
        ):
            spans.append(span)
    return sorted(spans, key=lambda s: (s.task_id, s.map_index, s.try_number))


@dataclass(frozen=True)
class RunSpan:
    """A run's id, state and times, for the run-duration chart."""

    run_id: str
    state: str
    run_after: datetime
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None until both are known)."""
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()


def recent_run_spans(session: Session, *, dag_id: str, limit: int) -> list[RunSpan]:
    """The DAG's ``limit`` latest runs (by ``run_after``), oldest first: a chart reads left to right."""
    query = (
        select(
            DagRunRow.run_id,
            DagRunRow.state,
            DagRunRow.run_after,
            DagRunRow.queued_at,
            DagRunRow.start_date,
            DagRunRow.end_date,
        )
        .where(DagRunRow.dag_id == dag_id)
        .order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())
        .limit(limit)
    )
    return [RunSpan(*row) for row in reversed(session.execute(query).all())]


def task_durations_of_runs(
    session: Session, *, dag_id: str, run_ids: Sequence[str]
) -> dict[tuple[str, str], float]:
    """``{(task_id, run_id): seconds}`` of the task instances of these runs that have a duration.

    A mapped task counts as its longest map index (the one the run waited for).
    """
    query = (
        select(TI.task_id, TI.run_id, func.max(TI.duration))
        .where(TI.dag_id == dag_id, TI.run_id.in_(list(run_ids)), TI.duration.is_not(None))
        .group_by(TI.task_id, TI.run_id)
    )
    return {(task_id, run_id): float(seconds or 0) for task_id, run_id, seconds in session.execute(query)}


def run_states_by_day(
    session: Session, *, dag_id: str, since: datetime, until: datetime
) -> dict[date, dict[str, int]]:
    """``{day: {state: count}}`` of the DAG's runs whose ``run_after`` (UTC) falls in [since, until).

    Reads only two columns of the year's runs; counting by day happens here, so the same code serves
    SQLite and PostgreSQL (their date functions differ).
    """
    query = select(DagRunRow.run_after, DagRunRow.state).where(
        DagRunRow.dag_id == dag_id, DagRunRow.run_after >= since, DagRunRow.run_after < until
    )
    days: dict[date, dict[str, int]] = {}
    for run_after, state in session.execute(query):
        counts = days.setdefault(run_after.date(), {})
        counts[state] = counts.get(state, 0) + 1
    return days
