"""Deciding the runs that changed: trigger rules, skips, expansions, run states.

Task instances found ready become ``scheduled``; :mod:`queueing` hands them out as slots free up.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from dagflow.decisions import Decisions, Key, TIRecord, decide
from dagflow.execution.taskrunner import utcnow
from dagflow.scheduler import runs as run_ops
from dagflow.scheduler.runcache import MARGIN
from dagflow.serialization import StoredDag
from dagflow.states import RunState, TaskState
from dagflow.store import task_instances as ti_store
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow, XComRow

if TYPE_CHECKING:
    from dagflow.scheduler.job import Scheduler

TI = TaskInstanceRow
RETRY_STATES = (TaskState.UP_FOR_RETRY.value, TaskState.UP_FOR_RESCHEDULE.value)


def collect_changed_runs(scheduler: Scheduler, session: Any, now: datetime) -> None:
    """Mark dirty the running runs whose task instances changed since the last pass, whose retry is due,
    or whose ``dagrun_timeout`` has passed."""
    state = scheduler.state
    since, state.changed_since = state.changed_since, now - MARGIN
    for key, deadline in list(state.run_deadlines.items()):
        if deadline <= now:
            del state.run_deadlines[key]
            state.dirty_runs.add(key)
    due = select(TI.dag_id, TI.run_id).where(TI.state.in_(RETRY_STATES), TI.not_before <= now).distinct()
    found = {(d, r) for d, r in session.execute(due)}
    if since is None:
        running = select(DagRunRow.dag_id, DagRunRow.run_id).where(DagRunRow.state == RunState.RUNNING.value)
        found |= {(d, r) for d, r in session.execute(running)}
    else:
        changed = select(TI.dag_id, TI.run_id).where(TI.updated_at >= since).distinct()
        found |= {(d, r) for d, r in session.execute(changed)}
    state.dirty_runs |= found


def decide_runs(scheduler: Scheduler, now: datetime) -> None:
    """Decide the runs that changed. Runs of paused DAGs are left as they are, as in Airflow, and
    looked at again once their DAG is unpaused."""
    state = scheduler.state
    dirty, state.dirty_runs = state.dirty_runs, set()
    if not dirty and not state.held_by_pause:
        return
    with scheduler.db.session() as session:
        paused = set(session.scalars(select(DagRow.dag_id).where(DagRow.is_paused.is_(True))))
    released = {run for run in state.held_by_pause if run[0] not in paused}
    state.held_by_pause -= released
    for run in released:  # nothing in it changed while it was held: look at all of it again
        scheduler.cache.forget_changes(run)
    for dag_id, run_id in sorted(dirty | released):
        if dag_id in paused:
            state.held_by_pause.add((dag_id, run_id))
            continue
        decide_run(scheduler, dag_id, run_id, now)


def decide_run(scheduler: Scheduler, dag_id: str, run_id: str, now: datetime) -> None:
    """One run: evaluate it while reading only, then record what was decided in one short write.

    Reading outside the write transaction keeps SQLite's write lock free for the workers; every write
    is guarded by the state it expects, so a change made meanwhile is never overwritten.
    """
    key = (dag_id, run_id)
    with scheduler.db.session() as session:
        run = _running_run(session, dag_id, run_id)
        stored = scheduler.stored_dag(session, dag_id) if run is not None else None
        if run is None or stored is None:
            scheduler.cache.forget(key)
            return
        if run_ops.timed_out(stored, run, now):
            decisions = None
        else:
            _watch_timeout(scheduler, stored, run)
            records = scheduler.cache.records(session, key, now)
            decisions = decide(
                stored.spec,
                records.values(),
                now=now,
                length_of=lambda task_id: length_of(session, stored, run, task_id),
                changed=scheduler.cache.take_changes(key),
            )
    if decisions is None:
        _fail_timed_out(scheduler, stored, key, now)
        return
    if decisions.ready and any(stored.spec.tasks[k[0]].depends_on_past for k in decisions.ready):
        with scheduler.db.session() as session:
            held = held_by_past(session, stored, run, decisions.ready)
        if held:
            decisions.ready = [k for k in decisions.ready if k not in held]
            scheduler.state.recheck_runs.add(key)
            scheduler.cache.forget_changes(key)  # the held ones did not change: look at all of it next time
    if decisions.waiting_until is not None:
        scheduler.timed(decisions.waiting_until)
    if not (decisions.new_states or decisions.ready or decisions.expansions or decisions.run_state):
        return
    with scheduler.db.session(write=True) as session:
        # stamped with the time of writing, not the pass's start: an upstream that ended while this
        # pass ran must not end after the downstream it let through (or the run) was decided
        _record(scheduler, session, stored, key, records, decisions, utcnow())


def _watch_timeout(scheduler: Scheduler, stored: StoredDag, run: DagRunRow) -> None:
    """Have the run looked at again when its ``dagrun_timeout`` passes, even if nothing changes in it."""
    if stored.dagrun_timeout and run.start_date:
        deadline = run.start_date + stored.dagrun_timeout
        scheduler.state.run_deadlines[(run.dag_id, run.run_id)] = deadline
        scheduler.timed(deadline)


def _running_run(session: Any, dag_id: str, run_id: str) -> DagRunRow | None:
    query = select(DagRunRow).where(
        DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id, DagRunRow.state == RunState.RUNNING.value
    )
    return session.scalars(query).first()


def _fail_timed_out(scheduler: Scheduler, stored: StoredDag, key: tuple[str, str], now: datetime) -> None:
    with scheduler.db.session(write=True) as session:
        run = _running_run(session, *key)
        if run is not None:
            run_ops.fail_timed_out_run(scheduler, session, stored, run, now)
    scheduler.cache.forget(key)


def _record(
    scheduler: Scheduler,
    session: Any,
    stored: StoredDag,
    key: tuple[str, str],
    records: dict[Key, TIRecord],
    decisions: Decisions,
    now: datetime,
) -> None:
    dag_id, run_id = key
    ti_store.apply_new_states(session, dag_id, run_id, decisions.new_states, now)
    for ti_key, new_state in decisions.new_states.items():
        records[ti_key].state = new_state
    if decisions.expansions:
        for task_id, count in decisions.expansions.items():
            ti_store.expand_mapped(session, stored.spec, dag_id, run_id, task_id, count, now)
        scheduler.cache.invalidate(key)
        scheduler.state.dirty_runs.add(key)
    empty = [k for k in decisions.ready if stored.spec.tasks[k[0]].is_empty]
    if empty:  # an EmptyOperator without callbacks succeeds without going to a worker
        ti_store.mark_empty_success(session, dag_id, run_id, empty, now)
        for ti_key in empty:
            records[ti_key].state = TaskState.SUCCESS
            records[ti_key].try_number += 1
        scheduler.state.dirty_runs.add(key)
    ready = [(k, records[k].state) for k in decisions.ready if not stored.spec.tasks[k[0]].is_empty]
    ti_store.mark_scheduled(session, dag_id, run_id, ready, now)
    for ti_key, previous in ready:
        record = records[ti_key]
        record.state = TaskState.SCHEDULED
        record.try_number += 0 if previous is TaskState.UP_FOR_RESCHEDULE else 1
    if decisions.run_state is None:
        return
    run = _running_run(session, dag_id, run_id)
    if run is not None and not ti_store.unfinished_count(session, dag_id, run_id):
        run_ops.finish_run(scheduler, session, stored, run, decisions.run_state, now)
        scheduler.cache.forget(key)
    else:  # someone changed the run meanwhile (a clear): look again
        scheduler.cache.invalidate(key)
        scheduler.state.dirty_runs.add(key)


def length_of(session: Any, stored: StoredDag, run: DagRunRow, task_id: str) -> int | None:
    """How many values ``task_id``'s output offers to map over in this run (None if it pushed none)."""
    if stored.spec.tasks[task_id].is_mapped:
        count = session.scalar(
            select(func.count())
            .select_from(XComRow)
            .where(
                XComRow.dag_id == run.dag_id,
                XComRow.run_id == run.run_id,
                XComRow.task_id == task_id,
                XComRow.key == "return_value",
                XComRow.map_index >= 0,
            )
        )
        return int(count or 0)
    return session.scalar(
        select(TI.map_length).where(
            TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.task_id == task_id, TI.map_index == -1
        )
    )


DONE_OK = (TaskState.SUCCESS.value, TaskState.SKIPPED.value)


def held_by_past(session: Any, stored: StoredDag, run: DagRunRow, ready: list[Key]) -> set[Key]:
    """Ready task instances that ``depends_on_past`` holds back: in the previous run (by logical date),
    the same task instance did not succeed or skip (or, with ``wait_for_downstream``, its downstream did not).

    The first run of a DAG, and a task instance that did not exist in the previous run, are not held.
    """
    if run.logical_date is None:
        return set()
    previous = session.scalars(
        select(DagRunRow)
        .where(DagRunRow.dag_id == run.dag_id, DagRunRow.logical_date < run.logical_date)
        .order_by(DagRunRow.logical_date.desc())
        .limit(1)
    ).first()
    if previous is None:
        return set()
    states = {
        (t, m): s
        for t, m, s in session.execute(
            select(TI.task_id, TI.map_index, TI.state).where(
                TI.dag_id == run.dag_id, TI.run_id == previous.run_id
            )
        )
    }
    held = set()
    for key in ready:
        task = stored.spec.tasks[key[0]]
        if not task.depends_on_past:
            continue
        past = states.get(key)
        if (past is not None and past not in DONE_OK) or (
            task.wait_for_downstream
            and any(s not in DONE_OK for (t, _m), s in states.items() if t in task.downstream)
        ):
            held.add(key)
    return held
