"""DAG run rows: creating runs (with their task instances) and reading or changing run state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from dagflow.core.decisions import initial_task_instances
from dagflow.core.schedule import NextRun
from dagflow.core.spec import DagSpec
from dagflow.core.states import RunState, TaskState
from dagflow.serialization import StoredDag
from dagflow.store.models import (
    BackfillRow,
    CallbackRequestRow,
    DagRunRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    XComRow,
)
from dagflow.store.notify import wake_after_commit
from dagflow.store.statistics import keep_statistics

ACTIVE_RUN_STATES = (RunState.QUEUED.value, RunState.RUNNING.value)


def task_instance_values(
    spec: DagSpec, dag_id: str, run_id: str, task_id: str, map_index: int
) -> dict[str, Any]:
    """The column values of a new task instance of ``task_id``."""
    task = spec.tasks[task_id]
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "state": TaskState.NONE.value,
        "try_number": 0,
        "max_tries": task.retries,
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "priority_weight": task.priority_weight,
        "queue": task.queue,
        "operator": task.operator,
    }


def create_run(
    session: Session,
    stored: StoredDag,
    *,
    run_id: str,
    logical_date: datetime | None,
    data_interval: tuple[datetime | None, datetime | None],
    run_after: datetime,
    run_type: str,
    conf: dict[str, Any] | None,
    now: datetime,
    backfill_id: int | None = None,
    triggered_by: str | None = None,
) -> DagRunRow:
    """Insert a queued run and its task instances (one per task, or per map index when known)."""
    run = DagRunRow(
        dag_id=stored.dag_id,
        run_id=run_id,
        logical_date=logical_date,
        data_interval_start=data_interval[0],
        data_interval_end=data_interval[1],
        run_after=run_after,
        run_type=run_type,
        state=RunState.QUEUED.value,
        conf=dict(conf or {}),
        queued_at=now,
        backfill_id=backfill_id,
        triggered_by=triggered_by,
        dag_version_id=stored.version_id,
    )
    session.add(run)
    session.flush()
    rows = [
        {
            **task_instance_values(stored.spec, stored.dag_id, run_id, r.task_id, r.map_index),
            "updated_at": now,
        }
        for r in initial_task_instances(stored.spec)
    ]
    if rows:
        session.execute(insert(TaskInstanceRow), rows)
        keep_statistics(session, len(rows))
    return run


def get_run(session: Session, dag_id: str, run_id: str) -> DagRunRow | None:
    return session.scalars(
        select(DagRunRow).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
    ).first()


def run_with_logical_date(session: Session, dag_id: str, logical_date: datetime) -> DagRunRow | None:
    query = select(DagRunRow).where(DagRunRow.dag_id == dag_id, DagRunRow.logical_date == logical_date)
    return session.scalars(query).first()


def previous_successful_run(session: Session, dag_id: str, logical_date: datetime) -> DagRunRow | None:
    """The DAG's latest successful run with an earlier logical date (the context's ``prev_*_success``)."""
    query = (
        select(DagRunRow)
        .where(
            DagRunRow.dag_id == dag_id,
            DagRunRow.state == RunState.SUCCESS,
            DagRunRow.logical_date < logical_date,
        )
        .order_by(DagRunRow.logical_date.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def active_run_counts(session: Session) -> dict[str, int]:
    """Queued and running runs per DAG."""
    query = (
        select(DagRunRow.dag_id, func.count())
        .where(DagRunRow.state.in_(ACTIVE_RUN_STATES))
        .group_by(DagRunRow.dag_id)
    )
    return {dag_id: count for dag_id, count in session.execute(query)}


def runs_in_state(session: Session, state: RunState, dag_ids: Sequence[str] | None = None) -> list[DagRunRow]:
    query = select(DagRunRow).where(DagRunRow.state == state.value)
    if dag_ids is not None:
        query = query.where(DagRunRow.dag_id.in_(list(dag_ids)))
    return list(session.scalars(query.order_by(DagRunRow.run_after, DagRunRow.id)))


def set_run_state(session: Session, run: DagRunRow, state: RunState, now: datetime) -> None:
    run.state = state.value
    if state is RunState.RUNNING:
        run.start_date = run.start_date or now
        run.end_date = None
    elif state in (RunState.SUCCESS, RunState.FAILED):
        run.end_date = now
    elif state is RunState.QUEUED:
        run.queued_at, run.end_date = now, None


def latest_scheduled_run(session: Session, dag_id: str) -> DagRunRow | None:
    """The run with the latest logical date that the scheduler (not a user) created."""
    query = (
        select(DagRunRow)
        .where(DagRunRow.dag_id == dag_id, DagRunRow.run_type == "scheduled")
        .order_by(DagRunRow.logical_date.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def mark_runs(session: Session, ids: Sequence[int], **values: Any) -> None:
    if ids:
        session.execute(update(DagRunRow).where(DagRunRow.id.in_(list(ids))).values(**values))


FINISHED_RUN_STATES = (RunState.SUCCESS.value, RunState.FAILED.value)


def requeue_finished(session: Session, *, run: DagRunRow, now: datetime) -> None:
    """A finished run queued again (some of its task instances were cleared), its callback unsent."""
    if run.state in FINISHED_RUN_STATES:
        set_run_state(session, run, RunState.QUEUED, now)
        run.callback_sent = False
        run.compensation_state = "none"  # it may fail (and be compensated) again


def move_to_version(session: Session, *, run: DagRunRow, stored: StoredDag, now: datetime) -> None:
    """The run goes on with ``stored``'s version: task instances of tasks it adds are created, those
    of tasks it no longer has are marked ``removed`` (as Airflow's ``verify_integrity``)."""
    run.dag_version_id = stored.version_id
    existing = {
        (task_id, map_index)
        for task_id, map_index in session.execute(
            select(TaskInstanceRow.task_id, TaskInstanceRow.map_index).where(
                TaskInstanceRow.dag_id == run.dag_id, TaskInstanceRow.run_id == run.run_id
            )
        )
    }
    have = {task_id for task_id, _ in existing}
    rows = [
        {
            **task_instance_values(stored.spec, stored.dag_id, run.run_id, r.task_id, r.map_index),
            "updated_at": now,
        }
        for r in initial_task_instances(stored.spec)
        if r.task_id not in have
    ]
    if rows:
        session.execute(insert(TaskInstanceRow), rows)
        keep_statistics(session, len(rows))
    gone = sorted(have - set(stored.spec.tasks))
    if gone:
        session.execute(
            update(TaskInstanceRow)
            .where(
                TaskInstanceRow.dag_id == run.dag_id,
                TaskInstanceRow.run_id == run.run_id,
                TaskInstanceRow.task_id.in_(gone),
            )
            .values(state=TaskState.REMOVED.value, updated_at=now),
            execution_options={"synchronize_session": False},
        )


def reopen_finished(session: Session, *, run: DagRunRow, now: datetime) -> None:
    """A finished run running again (a task instance of it was marked by hand)."""
    if run.state in FINISHED_RUN_STATES:
        set_run_state(session, run, RunState.RUNNING, now)
        run.compensation_state = "none"


def finish_run(session: Session, *, run: DagRunRow, state: RunState, now: datetime) -> None:
    """Mark a run finished by hand; its slot of ``max_active_runs`` frees up, so the schedulers wake."""
    set_run_state(session, run, state, now)
    wake_after_commit(session)


def list_runs(
    session: Session, *, dag_id: str | None = None, state: RunState | None = None, limit: int = 50
) -> list[DagRunRow]:
    """Runs, newest first (by ``run_after``), of one DAG or all, in one state or any."""
    query = select(DagRunRow).order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc()).limit(limit)
    if dag_id:
        query = query.where(DagRunRow.dag_id == dag_id)
    if state is not None:
        query = query.where(DagRunRow.state == state.value)
    return list(session.scalars(query))


def delete_run(session: Session, *, run: DagRunRow) -> None:
    """Delete a run with its task instances, tries, XComs and callbacks not run yet (a queued run's
    slot frees up)."""
    for table in (XComRow, CallbackRequestRow, TaskInstanceTryRow, TaskInstanceRow):
        session.execute(delete(table).where(table.dag_id == run.dag_id, table.run_id == run.run_id))
    session.delete(run)
    wake_after_commit(session)


def create_backfill(
    session: Session,
    *,
    stored: StoredDag,
    points: Sequence[NextRun],
    start: datetime,
    end: datetime,
    max_active_runs: int,
    now: datetime,
) -> tuple[BackfillRow, list[DagRunRow]]:
    """A backfill of ``stored`` with a queued run per schedule point that has none yet.

    A backfill that found every point already run is recorded as completed.
    """
    record = BackfillRow(
        dag_id=stored.dag_id, from_date=start, to_date=end, max_active_runs=max_active_runs, created_at=now
    )
    session.add(record)
    session.flush()
    created = [
        create_run(
            session,
            stored,
            run_id=f"backfill__{point.logical_date.isoformat()}",
            logical_date=point.logical_date,
            data_interval=(point.data_interval.start, point.data_interval.end),
            run_after=point.run_after,
            run_type="backfill",
            conf={},
            now=now,
            backfill_id=record.id,
        )
        for point in points
        if run_with_logical_date(session, stored.dag_id, point.logical_date) is None
    ]
    if created:
        wake_after_commit(session)
    else:
        record.completed_at = now
    return record, created


def count_backfill_runs(session: Session, *, backfill_id: int, states: Sequence[RunState]) -> int:
    """How many runs of the backfill are in one of ``states``."""
    query = (
        select(func.count())
        .select_from(DagRunRow)
        .where(DagRunRow.backfill_id == backfill_id, DagRunRow.state.in_([s.value for s in states]))
    )
    return session.scalar(query) or 0
