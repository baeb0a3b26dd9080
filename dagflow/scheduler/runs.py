"""Run lifecycle for the scheduler: creating scheduled runs, starting queued ones, finishing them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update

from dagflow.core.keys import RunKey
from dagflow.core.schedule import ContinuousTimetable, DataInterval, NextRun
from dagflow.core.states import RunState, TaskState
from dagflow.executors.base import Workload
from dagflow.serialization import StoredDag
from dagflow.store import runs as run_store
from dagflow.store.models import BackfillRow, DagRow, DagRunRow, TaskInstanceRow

if TYPE_CHECKING:
    from dagflow.scheduler.job import Scheduler

ACTIVE = (RunState.QUEUED.value, RunState.RUNNING.value)
TI = TaskInstanceRow


def scheduled_run_id(logical_date: datetime) -> str:
    return f"scheduled__{logical_date.isoformat()}"


def _last_scheduled(session: Any, dag_id: str) -> NextRun | None:
    run = run_store.latest_scheduled_run(session, dag_id)
    if run is None or run.logical_date is None:
        return None
    start = run.data_interval_start or run.logical_date
    end = run.data_interval_end or run.logical_date
    return NextRun(run.logical_date, DataInterval(start, end), run.run_after)


def _set_next(row: DagRow, info: NextRun | None) -> None:
    row.next_dagrun = info.logical_date if info else None
    row.next_dagrun_data_interval_start = info.data_interval.start if info else None
    row.next_dagrun_data_interval_end = info.data_interval.end if info else None
    row.next_dagrun_create_after = info.run_after if info else None


def dags_wanting_runs(scheduler: Scheduler, session: Any, now: datetime) -> list[str]:
    """Unpaused DAGs whose next run is due, or not computed yet (read only)."""
    query = select(DagRow.dag_id, DagRow.next_dagrun_create_after).where(
        DagRow.is_paused.is_(False),
        DagRow.is_active.is_(True),
        or_(DagRow.next_dagrun_create_after.is_(None), DagRow.next_dagrun_create_after <= now),
    )
    wanting = []
    for (dag_id,) in session.execute(query.with_only_columns(DagRow.dag_id)):
        stored = scheduler.state.dags.get(dag_id)
        if stored is not None and not stored.timetable.can_be_scheduled:
            continue
        wanting.append(dag_id)
    later = session.scalar(
        select(func.min(DagRow.next_dagrun_create_after)).where(
            DagRow.is_paused.is_(False), DagRow.is_active.is_(True), DagRow.next_dagrun_create_after > now
        )
    )
    if later is not None:
        scheduler.timed(later)
    return wanting


def has_queued_runs(session: Any) -> bool:
    """Whether some run waits to start (runs of paused DAGs wait for their unpausing: not counted)."""
    query = (
        select(DagRunRow.id)
        .join(DagRow, DagRow.dag_id == DagRunRow.dag_id)
        .where(DagRunRow.state == RunState.QUEUED.value, DagRow.is_paused.is_(False))
        .limit(1)
    )
    return session.scalar(query) is not None


def create_due_runs(scheduler: Scheduler, session: Any, now: datetime, dag_ids: list[str]) -> None:
    """Create the scheduled runs that are due, within each DAG's ``max_active_runs``."""
    if not dag_ids:
        return
    rows = session.scalars(
        select(DagRow).where(
            DagRow.dag_id.in_(dag_ids), DagRow.is_paused.is_(False), DagRow.is_active.is_(True)
        )
    )
    active = run_store.active_run_counts(session)
    for row in rows:
        stored = scheduler.stored_dag(session, row.dag_id)
        if stored is None or not stored.timetable.can_be_scheduled:
            continue
        if row.next_dagrun_create_after is None:
            _set_next(
                row, stored.timetable.next_run(_last_scheduled(session, row.dag_id), stored.restriction, now)
            )
        if row.next_dagrun_create_after is None:
            continue
        if row.next_dagrun_create_after > now:
            scheduler.timed(row.next_dagrun_create_after)
            continue
        busy = active.get(row.dag_id, 0)
        if busy >= stored.max_active_runs or (isinstance(stored.timetable, ContinuousTimetable) and busy):
            continue
        _create_scheduled(session, stored, row, now)
        active[row.dag_id] = busy + 1
        _set_next(
            row, stored.timetable.next_run(_last_scheduled(session, row.dag_id), stored.restriction, now)
        )
        if row.next_dagrun_create_after is not None:
            scheduler.timed(row.next_dagrun_create_after)


def _create_scheduled(session: Any, stored: StoredDag, row: DagRow, now: datetime) -> None:
    logical_date = row.next_dagrun
    assert logical_date is not None and row.next_dagrun_create_after is not None
    if run_store.run_with_logical_date(session, stored.dag_id, logical_date) is not None:
        return  # a run for this date exists already (triggered by hand): the schedule moves on
    run_store.create_run(
        session,
        stored,
        run_id=scheduled_run_id(logical_date),
        logical_date=logical_date,
        data_interval=(row.next_dagrun_data_interval_start, row.next_dagrun_data_interval_end),
        run_after=row.next_dagrun_create_after,
        run_type="scheduled",
        conf={},
        now=now,
    )


def start_queued_runs(scheduler: Scheduler, session: Any, now: datetime) -> None:
    """Move queued runs to running, oldest first, while each DAG (and backfill) has room.

    A paused DAG's runs stay queued until it is unpaused, as in Airflow.
    """
    queued = run_store.runs_in_state(session, RunState.QUEUED)
    if not queued:
        return
    paused = set(
        session.scalars(
            select(DagRow.dag_id).where(
                DagRow.is_paused.is_(True), DagRow.dag_id.in_({run.dag_id for run in queued})
            )
        )
    )
    running = Counter(
        dict(
            session.execute(
                select(DagRunRow.dag_id, func.count())
                .where(DagRunRow.state == RunState.RUNNING.value)
                .group_by(DagRunRow.dag_id)
            ).all()
        )
    )
    backfill_running = Counter(
        dict(
            session.execute(
                select(DagRunRow.backfill_id, func.count())
                .where(DagRunRow.state == RunState.RUNNING.value, DagRunRow.backfill_id.is_not(None))
                .group_by(DagRunRow.backfill_id)
            ).all()
        )
    )
    backfill_limits = {b.id: b.max_active_runs for b in session.scalars(select(BackfillRow))}
    for run in queued:
        stored = scheduler.stored_dag(session, run.dag_id)
        if stored is None or run.dag_id in paused or running[run.dag_id] >= stored.max_active_runs:
            continue
        if run.backfill_id is not None and backfill_running[run.backfill_id] >= backfill_limits.get(
            run.backfill_id, 1
        ):
            continue
        run_store.set_run_state(session, run, RunState.RUNNING, now)
        running[run.dag_id] += 1
        if run.backfill_id is not None:
            backfill_running[run.backfill_id] += 1
        scheduler.state.dirty_runs.add((run.dag_id, run.run_id))


def timed_out(stored: StoredDag, run: DagRunRow, now: datetime) -> bool:
    timeout = stored.dagrun_timeout
    return bool(timeout and run.start_date and now - run.start_date > timeout)


def fail_timed_out_run(
    scheduler: Scheduler, session: Any, stored: StoredDag, run: DagRunRow, now: datetime
) -> None:
    """A run past its ``dagrun_timeout`` fails; what had not finished is skipped (running tries stop)."""
    unfinished = (
        TaskState.NONE.value,
        TaskState.SCHEDULED.value,
        TaskState.QUEUED.value,
        TaskState.UP_FOR_RETRY.value,
        TaskState.UP_FOR_RESCHEDULE.value,
        TaskState.RUNNING.value,
    )
    session.execute(
        update(TI)
        .where(TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.state.in_(unfinished))
        .values(state=TaskState.SKIPPED.value, end_date=now, updated_at=now, attempt_token=None),
        execution_options={"synchronize_session": False},
    )
    finish_run(scheduler, session, stored, run, RunState.FAILED, now)


def finish_run(
    scheduler: Scheduler, session: Any, stored: StoredDag, run: DagRunRow, state: RunState, now: datetime
) -> None:
    """Record the run's end and hand its DAG-level callback (once) to a worker."""
    run_store.set_run_state(session, run, state, now)
    scheduler.timed(now)  # the run's slot is free: a queued or due run may start on the next pass
    wants = stored.has_on_success_callback if state is RunState.SUCCESS else stored.has_on_failure_callback
    if wants and not run.callback_sent:
        run.callback_sent = True
        kind = "success" if state is RunState.SUCCESS else "failure"
        scheduler.submit(
            [
                Workload(
                    RunKey(run.dag_id, run.run_id).ti(""),
                    0,
                    f"callback-{run.id}-{kind}",
                    stored.fileloc,
                    dag_callback=kind,
                )
            ]
        )
    if run.backfill_id is not None:
        _complete_backfill(session, run.backfill_id, now)


def _complete_backfill(session: Any, backfill_id: int, now: datetime) -> None:
    remaining = session.scalar(
        select(func.count())
        .select_from(DagRunRow)
        .where(DagRunRow.backfill_id == backfill_id, DagRunRow.state.in_(ACTIVE))
    )
    if not remaining:
        backfill = session.get(BackfillRow, backfill_id)
        if backfill is not None and backfill.completed_at is None:
            backfill.completed_at = now
