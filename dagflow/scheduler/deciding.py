"""Deciding the runs that changed: trigger rules, skips, expansions, run states.

Task instances found ready become ``scheduled``; :mod:`queueing` hands them out as slots free up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, tuple_

from dagflow.core.clock import utcnow
from dagflow.core.decisions import Decisions, Key, RunRecords, decide
from dagflow.core.states import RunState, TaskState
from dagflow.scheduler import runs as run_ops
from dagflow.scheduler.runcache import MARGIN
from dagflow.serialization import StoredDag
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
        # not DISTINCT: SQLite would then walk the whole table in key order instead of the
        # updated_at index, a read that grows with the history kept
        changed = select(TI.dag_id, TI.run_id).where(TI.updated_at >= since)
        found |= {(d, r) for d, r in session.execute(changed)}
    state.dirty_runs |= found


def decide_runs(scheduler: Scheduler, now: datetime) -> None:
    """Decide the runs that changed. Runs of paused DAGs are left as they are, as in Airflow, and
    looked at again once their DAG is unpaused.

    Every run is evaluated while reading only, in one read of the store for the whole pass (the runs
    with their DAG's paused flag in one query, their task instances from the run cache); then what was
    decided for all of them is recorded in one short write. Reading outside the write
    transactions keeps SQLite's write lock free for the workers; every write is guarded by the state
    it expects, so a change made meanwhile is never overwritten.
    """
    state = scheduler.state
    dirty, state.dirty_runs = state.dirty_runs, set()
    if not dirty and not state.held_by_pause:
        return
    with scheduler.db.session() as session:
        running = _running_runs(session, dirty | state.held_by_pause)
        runs = _not_paused(scheduler, dirty, running)
        scheduler.cache.refresh(session, runs, now)
        verdicts = [_evaluate_run(scheduler, session, running[key][0], now) for key in runs]
    _act(scheduler, [v for v in verdicts if v is not None], now)


def _not_paused(
    scheduler: Scheduler, dirty: set[tuple[str, str]], running: dict[tuple[str, str], tuple[DagRunRow, bool]]
) -> list[tuple[str, str]]:
    """The runs to decide: the running ones of unpaused DAGs, among those that changed and those held
    by their DAG's pause (which are looked at whole again once it is unpaused)."""
    state = scheduler.state
    for key in (dirty | state.held_by_pause) - running.keys():  # no longer running, or its DAG is gone
        scheduler.cache.forget(key)
    paused = {key for key, (_, is_paused) in running.items() if is_paused}
    for key in state.held_by_pause - paused:  # nothing in it changed while it was held: look at all of it
        scheduler.cache.forget_changes(key)
    state.held_by_pause = paused
    return sorted(running.keys() - paused)


def _running_runs(session: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[DagRunRow, bool]]:
    """Those of these runs that are running, each with whether its DAG is paused."""
    found: dict[tuple[str, str], tuple[DagRunRow, bool]] = {}
    wanted = sorted(keys)
    for start in range(0, len(wanted), ti_store.CHUNK):
        query = (
            select(DagRunRow, DagRow.is_paused)
            .join(DagRow, DagRow.dag_id == DagRunRow.dag_id)
            .where(
                tuple_(DagRunRow.dag_id, DagRunRow.run_id).in_(wanted[start : start + ti_store.CHUNK]),
                DagRunRow.state == RunState.RUNNING.value,
            )
        )
        for run, is_paused in session.execute(query):
            found[(run.dag_id, run.run_id)] = (run, bool(is_paused))
    return found


@dataclass
class _Verdict:
    """What was decided for one run, to be recorded."""

    stored: StoredDag
    run: DagRunRow
    records: RunRecords
    #: None: the run is past its ``dagrun_timeout``.
    decisions: Decisions | None


def _evaluate_run(scheduler: Scheduler, session: Any, run: DagRunRow, now: datetime) -> _Verdict | None:
    """Evaluate one running run, reading only."""
    key = (run.dag_id, run.run_id)
    stored = scheduler.stored_dag(session, run.dag_id)
    if stored is None:
        scheduler.cache.forget(key)
        return None
    records = scheduler.cache.records(key)
    if run_ops.timed_out(stored, run, now):
        return _Verdict(stored, run, records, None)
    _watch_timeout(scheduler, stored, run)
    decisions = decide(
        stored.spec,
        records,
        now=now,
        length_of=lambda task_id: length_of(session, stored, run, task_id),
        changed=scheduler.cache.take_changes(key),
    )
    if decisions.ready and any(stored.spec.tasks[k[0]].depends_on_past for k in decisions.ready):
        held = held_by_past(session, stored, run, decisions.ready)
        if held:
            decisions.ready = [k for k in decisions.ready if k not in held]
            scheduler.state.recheck_runs.add(key)
            scheduler.cache.forget_changes(key)  # the held ones did not change: look at all of it next time
    if decisions.waiting_until is not None:
        scheduler.timed(decisions.waiting_until)
    return _Verdict(stored, run, records, decisions)


def _act(scheduler: Scheduler, verdicts: list[_Verdict], now: datetime) -> None:
    """Record what was decided for the runs, all in one short write (runs past their timeout are
    failed each in its own)."""
    news = []
    for verdict in verdicts:
        decisions = verdict.decisions
        if decisions is None:
            _fail_timed_out(scheduler, verdict.stored, (verdict.run.dag_id, verdict.run.run_id), now)
        elif decisions.new_states or decisions.ready or decisions.expansions or decisions.run_state:
            news.append((verdict, decisions))
    if not news:
        return
    try:
        with scheduler.db.session(write=True) as session:
            # stamped with the time of writing, not the pass's start: an upstream that ended while
            # this pass ran must not end after the downstream it let through (or the run) was decided
            written = utcnow()
            for verdict, decisions in news:
                key = (verdict.run.dag_id, verdict.run.run_id)
                _record(scheduler, session, verdict.stored, key, verdict.records, decisions, written)
    except Exception:  # not written: read these runs again, and decide them again
        for verdict, _ in news:
            key = (verdict.run.dag_id, verdict.run.run_id)
            scheduler.cache.forget(key)
            scheduler.state.dirty_runs.add(key)
        raise


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
    records: RunRecords,
    decisions: Decisions,
    now: datetime,
) -> None:
    dag_id, run_id = key
    ti_store.apply_new_states(session, dag_id, run_id, decisions.new_states, now)
    for ti_key, new_state in decisions.new_states.items():
        records.set_state(ti_key, new_state)
    if decisions.expansions:
        for task_id, count in decisions.expansions.items():
            ti_store.expand_mapped(session, stored.spec, dag_id, run_id, task_id, count, now)
        scheduler.cache.invalidate(key)
        scheduler.state.dirty_runs.add(key)
    empty = [k for k in decisions.ready if stored.spec.tasks[k[0]].is_empty]
    if empty:  # an EmptyOperator without callbacks succeeds without going to a worker
        ti_store.mark_empty_success(session, dag_id, run_id, empty, now)
        for ti_key in empty:
            records.set_state(ti_key, TaskState.SUCCESS).try_number += 1
        scheduler.state.dirty_runs.add(key)
    ready = [(k, records[k].state) for k in decisions.ready if not stored.spec.tasks[k[0]].is_empty]
    ti_store.mark_scheduled(session, dag_id, run_id, ready, now)
    for ti_key, previous in ready:
        record = records.set_state(ti_key, TaskState.SCHEDULED)
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
