"""The reads behind the inspection commands (``dags details``, ``dags list-runs``, ``dags next-execution``,
``tasks states-for-dag-run``): one function per question."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dagflow.core.keys import RunKey
from dagflow.core.schedule import DataInterval, NextRun
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow


def dag_row(session: Session, dag_id: str) -> DagRow | None:
    """The active DAG's row, serialized form included."""
    row = session.get(DagRow, dag_id)
    return row if row is not None and row.is_active else None


def last_scheduled_point(session: Session, dag_id: str) -> NextRun | None:
    """The latest scheduled run as the timetable sees it (where the schedule continues from)."""
    query = (
        select(DagRunRow)
        .where(DagRunRow.dag_id == dag_id, DagRunRow.run_type.in_(("scheduled", "backfill")))
        .where(DagRunRow.logical_date.is_not(None))
        .order_by(DagRunRow.logical_date.desc())
        .limit(1)
    )
    run = session.scalars(query).first()
    if run is None or run.logical_date is None:
        return None
    start = run.data_interval_start or run.logical_date
    end = run.data_interval_end or run.logical_date
    return NextRun(run.logical_date, DataInterval(start, end), run.run_after)


def dag_runs(
    session: Session,
    dag_id: str,
    *,
    state: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    no_backfill: bool = False,
) -> list[DagRunRow]:
    """A DAG's runs, newest logical date first, optionally by state and logical-date range."""
    query = select(DagRunRow).where(DagRunRow.dag_id == dag_id)
    if state:
        query = query.where(DagRunRow.state == state)
    if start is not None:
        query = query.where(DagRunRow.logical_date >= start)
    if end is not None:
        query = query.where(DagRunRow.logical_date <= end)
    if no_backfill:
        query = query.where(DagRunRow.run_type != "backfill")
    return list(session.scalars(query.order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())))


def run_task_states(session: Session, run: RunKey) -> list[dict[str, Any]]:
    """Each task instance of a run: id, map index, state, try number and times."""
    query = (
        select(TaskInstanceRow)
        .where(TaskInstanceRow.dag_id == run.dag_id, TaskInstanceRow.run_id == run.run_id)
        .order_by(TaskInstanceRow.task_id, TaskInstanceRow.map_index)
    )
    return [
        {
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "state": ti.state,
            "try_number": ti.try_number,
            "start_date": ti.start_date,
            "end_date": ti.end_date,
        }
        for ti in session.scalars(query)
    ]
