"""The store's answers to the metrics endpoint: counts by state, pool use, heartbeats, durations.

Read on every scrape of ``/metrics`` (the web server's and each scheduler's), so each is one
grouped query; what is derived from the history (finished tries, run durations) is cumulative, as
Prometheus counters and histograms must be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from dagflow.core.states import JobState, RunState, TaskState
from dagflow.store.models import (
    DagRunRow,
    ImportErrorRow,
    JobRow,
    PoolRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
)

TI = TaskInstanceRow
TRY = TaskInstanceTryRow
BUSY = (TaskState.QUEUED.value, TaskState.RUNNING.value, TaskState.SCHEDULED.value)


def runs_by_state(session: Session) -> dict[tuple[str, str], int]:
    """``(dag_id, state)``: how many runs."""
    query = select(DagRunRow.dag_id, DagRunRow.state, func.count()).group_by(
        DagRunRow.dag_id, DagRunRow.state
    )
    return {(d, s): int(n) for d, s, n in session.execute(query)}


def task_instances_by_state(session: Session) -> dict[tuple[str, str], int]:
    """``(dag_id, state)``: how many task instances."""
    query = select(TI.dag_id, TI.state, func.count()).group_by(TI.dag_id, TI.state)
    return {(d, s): int(n) for d, s, n in session.execute(query)}


@dataclass(frozen=True)
class PoolUse:
    slots: int
    queued: int
    running: int
    scheduled: int

    @property
    def open(self) -> int:
        return self.slots - self.queued - self.running


def pool_use(session: Session) -> dict[str, PoolUse]:
    """Each pool's slots, and the slots its queued, running and scheduled task instances take."""
    used = (
        select(TI.pool, TI.state, func.sum(TI.pool_slots))
        .where(TI.state.in_(BUSY))
        .group_by(TI.pool, TI.state)
    )
    taken: dict[tuple[str, str], int] = {(p, s): int(n or 0) for p, s, n in session.execute(used)}
    found = {}
    for name, slots in session.execute(select(PoolRow.name, PoolRow.slots)):
        found[name] = PoolUse(
            slots,
            taken.get((name, TaskState.QUEUED.value), 0),
            taken.get((name, TaskState.RUNNING.value), 0),
            taken.get((name, TaskState.SCHEDULED.value), 0),
        )
    return found


def queue_use(session: Session) -> dict[tuple[str, str], int]:
    """``(queue, state)``: queued and running task instances per executor queue."""
    query = (
        select(TI.queue, TI.state, func.count())
        .where(TI.state.in_((TaskState.QUEUED.value, TaskState.RUNNING.value)))
        .group_by(TI.queue, TI.state)
    )
    return {(q, s): int(n) for q, s, n in session.execute(query)}


def import_error_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ImportErrorRow)) or 0)


@dataclass(frozen=True)
class Heartbeat:
    kind: str
    hostname: str
    pid: int
    at: datetime | None


def heartbeats(session: Session) -> list[Heartbeat]:
    """The last heartbeat of every running job (schedulers) and of every running attempt's worker."""
    jobs = select(JobRow.job_type, JobRow.hostname, JobRow.pid, JobRow.latest_heartbeat).where(
        JobRow.state == JobState.RUNNING.value
    )
    workers = select(TI.hostname, TI.pid, func.max(TI.heartbeat_at)).where(
        TI.state == TaskState.RUNNING.value, TI.hostname.is_not(None)
    )
    found = [Heartbeat(kind, host, pid, at) for kind, host, pid, at in session.execute(jobs)]
    for host, pid, at in session.execute(workers.group_by(TI.hostname, TI.pid)):
        found.append(Heartbeat("worker", host or "", int(pid or 0), at))
    return found


def tries_finished(session: Session) -> dict[tuple[str, str, str], int]:
    """``(dag_id, task_id, state)``: how many tries ended so (Airflow's ``ti_finish``)."""
    query = (
        select(TRY.dag_id, TRY.task_id, TRY.state, func.count())
        .where(TRY.end_date.is_not(None))
        .group_by(TRY.dag_id, TRY.task_id, TRY.state)
    )
    return {(d, t, s): int(n) for d, t, s, n in session.execute(query)}


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts at each bucket's upper bound, the count and the sum."""

    buckets: list[int]
    count: int
    total: float


def try_duration_histograms(session: Session, bounds: Sequence[float]) -> dict[tuple[str, str], Histogram]:
    """``(dag_id, task_id)``: the histogram of the durations of every try that ended, counted in SQL."""
    columns = [func.sum(case((TRY.duration <= bound, 1), else_=0)) for bound in bounds]
    query = (
        select(TRY.dag_id, TRY.task_id, func.count(), func.sum(TRY.duration), *columns)
        .where(TRY.duration.is_not(None))
        .group_by(TRY.dag_id, TRY.task_id)
    )
    return {
        (d, t): Histogram([int(c or 0) for c in counts], int(n), float(total or 0.0))
        for d, t, n, total, *counts in session.execute(query)
    }


def finished_run_durations(session: Session) -> list[tuple[str, str, float]]:
    """``(dag_id, state, seconds)`` of every finished run with a start and an end."""
    query = select(DagRunRow.dag_id, DagRunRow.state, DagRunRow.start_date, DagRunRow.end_date).where(
        DagRunRow.state.in_((RunState.SUCCESS.value, RunState.FAILED.value)),
        DagRunRow.start_date.is_not(None),
        DagRunRow.end_date.is_not(None),
    )
    return [
        (d, s, (end - start).total_seconds())
        for d, s, start, end in session.execute(query)
        if start is not None and end is not None
    ]


@dataclass(frozen=True)
class TaskTimes:
    run: tuple[str, str]
    task_id: str
    start: datetime
    end: datetime | None


def recent_task_times(session: Session, *, limit: int) -> list[TaskTimes]:
    """Start and end of the task instances of the most recently started runs (about ``limit`` rows),
    to measure the gap between a task's upstreams ending and its start."""
    recent = (
        select(DagRunRow.dag_id, DagRunRow.run_id)
        .where(DagRunRow.start_date.is_not(None))
        .order_by(DagRunRow.start_date.desc())
        .limit(max(1, limit // 20))
        .subquery()
    )
    query = (
        select(TI.dag_id, TI.run_id, TI.task_id, TI.start_date, TI.end_date)
        .join(recent, and_(recent.c.dag_id == TI.dag_id, recent.c.run_id == TI.run_id))
        .where(TI.start_date.is_not(None), TI.map_index <= 0)
        .limit(limit)
    )
    return [TaskTimes((d, r), t, s, e) for d, r, t, s, e in session.execute(query) if s is not None]
