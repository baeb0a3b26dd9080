"""Phase: create the scheduled runs that are due, start queued runs, and finish runs.

Functions of the session, the stored DAGs and the time, returning what they decided
(:class:`~dagflow.scheduler.outcome.PassOutcome`): runs to decide, timers, callback workloads.
"""

from __future__ import annotations

from datetime import datetime

from dagflow.core.keys import RunKey
from dagflow.core.saga import RunCompensation
from dagflow.core.schedule import ContinuousTimetable, DataInterval, NextRun
from dagflow.core.states import RunState
from dagflow.executors.base import Workload
from dagflow.scheduler.dags import DagCache
from dagflow.scheduler.outcome import PassOutcome
from dagflow.serialization import StoredDag
from dagflow.store import Session, scheduling
from dagflow.store import runs as run_store
from dagflow.store.models import DagRow, DagRunRow


def scheduled_run_id(logical_date: datetime) -> str:
    return f"scheduled__{logical_date.isoformat()}"


def due_dags(session: Session, dags: DagCache, now: datetime) -> tuple[list[str], PassOutcome]:
    """Unpaused DAGs whose next run is due or not computed yet (read only), and a timer for the next."""
    outcome = PassOutcome()
    found, later = scheduling.dags_wanting_runs(session, now)
    if later is not None:
        outcome.timed(later)
    due = []
    for dag_id in found:
        stored = dags.peek(dag_id)
        if stored is None or stored.timetable.can_be_scheduled:
            due.append(dag_id)
    return due, outcome


def _last_scheduled(session: Session, dag_id: str) -> NextRun | None:
    run = run_store.latest_scheduled_run(session, dag_id)
    if run is None or run.logical_date is None:
        return None
    start = run.data_interval_start or run.logical_date
    end = run.data_interval_end or run.logical_date
    return NextRun(run.logical_date, DataInterval(start, end), run.run_after)


def _set_next(session: Session, row: DagRow, stored: StoredDag, now: datetime) -> None:
    info = stored.timetable.next_run(_last_scheduled(session, row.dag_id), stored.restriction, now)
    row.next_dagrun = info.logical_date if info else None
    row.next_dagrun_data_interval_start = info.data_interval.start if info else None
    row.next_dagrun_data_interval_end = info.data_interval.end if info else None
    row.next_dagrun_create_after = info.run_after if info else None


def create_due_runs(session: Session, dags: DagCache, due: list[str], now: datetime) -> PassOutcome:
    """Create the scheduled runs that are due, within each DAG's ``max_active_runs``."""
    outcome = PassOutcome()
    if not due:
        return outcome
    rows = scheduling.schedulable_dag_rows(session, due)  # locked: others pass these over
    active = run_store.active_run_counts(session)  # counted once the DAGs are this scheduler's
    for row in rows:
        stored = dags.get(session, row.dag_id)
        if stored is None or not stored.timetable.can_be_scheduled:
            continue
        if row.next_dagrun_create_after is None:
            _set_next(session, row, stored, now)
        if row.next_dagrun_create_after is None:
            continue
        if row.next_dagrun_create_after > now:
            outcome.timed(row.next_dagrun_create_after)
            continue
        busy = active.get(row.dag_id, 0)
        if busy >= stored.max_active_runs or (isinstance(stored.timetable, ContinuousTimetable) and busy):
            continue
        _create_scheduled(session, stored, row, now)
        active[row.dag_id] = busy + 1
        _set_next(session, row, stored, now)
        if row.next_dagrun_create_after is not None:
            outcome.timed(row.next_dagrun_create_after)
    return outcome


def _create_scheduled(session: Session, stored: StoredDag, row: DagRow, now: datetime) -> None:
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


def start_queued_runs(session: Session, dags: DagCache, now: datetime) -> PassOutcome:
    """Move queued runs to running, oldest first, while each DAG (and backfill) has room.

    A paused DAG's runs stay queued until it is unpaused, as in Airflow.
    """
    outcome = PassOutcome()
    # a DAG whose row another scheduler holds is that one's to start runs of: max_active_runs holds;
    # the runs are read once the rows are held, so none started meanwhile is started again
    mine = scheduling.lock_dags(session, scheduling.dags_with_queued_runs(session))
    queued = run_store.runs_in_state(session, RunState.QUEUED, sorted(mine)) if mine else []
    if not queued:
        return outcome
    slots = scheduling.run_slots(session, {run.dag_id for run in queued})
    for run in queued:
        stored = dags.get(session, run.dag_id)
        if (
            stored is None
            or run.dag_id in slots.paused
            or slots.running[run.dag_id] >= stored.max_active_runs
        ):
            continue
        backfill = run.backfill_id
        if backfill is not None and slots.backfill_running[backfill] >= slots.backfill_limits.get(
            backfill, 1
        ):
            continue
        run_store.set_run_state(session, run, RunState.RUNNING, now)
        slots.running[run.dag_id] += 1
        if backfill is not None:
            slots.backfill_running[backfill] += 1
        outcome.dirty.add(RunKey(run.dag_id, run.run_id))
    return outcome


def timed_out(stored: StoredDag, start_date: datetime | None, now: datetime) -> bool:
    """Whether a run that started at ``start_date`` is past its DAG's ``dagrun_timeout``."""
    timeout = stored.dagrun_timeout
    return bool(timeout and start_date and now - start_date > timeout)


def fail_timed_out_run(session: Session, stored: StoredDag, run: DagRunRow, now: datetime) -> PassOutcome:
    """A run past its ``dagrun_timeout`` fails; what had not finished is skipped (running tries stop)."""
    scheduling.skip_unfinished(session, RunKey(run.dag_id, run.run_id), now)
    return finish_run(session, stored, run, RunState.FAILED, now)


def finish_run(
    session: Session, stored: StoredDag, run: DagRunRow, state: RunState, now: datetime
) -> PassOutcome:
    """Record the run's end; its DAG-level callback (once) is a workload for a worker."""
    outcome = PassOutcome()
    run_store.set_run_state(session, run, state, now)
    if state is RunState.FAILED and stored.spec.compensate_on == "failure" and stored.spec.has_compensations:
        run.compensation_state = RunCompensation.COMPENSATING.value  # durable with the run's end
    outcome.timed(now)  # the run's slot is free: a queued or due run may start on the next pass
    wants = stored.has_on_success_callback if state is RunState.SUCCESS else stored.has_on_failure_callback
    if wants and not run.callback_sent:
        run.callback_sent = True
        kind = "success" if state is RunState.SUCCESS else "failure"
        key = RunKey(run.dag_id, run.run_id).ti("")
        outcome.submit.append(
            Workload(key, 0, f"callback-{run.id}-{kind}", stored.fileloc, dag_callback=kind)
        )
    if run.backfill_id is not None:
        scheduling.complete_backfill_if_done(session, run.backfill_id, now)
    return outcome
