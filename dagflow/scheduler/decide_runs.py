"""Phase: decide the runs that changed (trigger rules, skips, expansions, run states) and record it.

Task instances found ready become ``scheduled``; :mod:`queue_tasks` hands them out as slots free
up. Decisions themselves are the pure :func:`dagflow.core.decisions.decide`, shared with
``dag.test()``; this phase feeds it from the store and records what it decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dagflow.core import past
from dagflow.core.clock import utcnow
from dagflow.core.decisions import Decisions, Key, RunRecords, decide
from dagflow.core.keys import RunKey
from dagflow.core.states import TaskState
from dagflow.scheduler.create_runs import fail_timed_out_run, finish_run, timed_out
from dagflow.scheduler.dags import DagCache
from dagflow.scheduler.outcome import PassOutcome
from dagflow.scheduler.runcache import MARGIN, RunCache
from dagflow.serialization import StoredDag
from dagflow.store import Database, Session, scheduling
from dagflow.store import task_instances as ti_store
from dagflow.store.ownership import LEAVE_FOR, RunOwnership


def changed_runs(session: Session, *, since: datetime | None, now: datetime) -> tuple[set[RunKey], datetime]:
    """The runs to look at: those whose retry is due, and the running runs whose task instances
    changed since ``since`` (all running runs when None); and the ``since`` of the next call."""
    found = scheduling.runs_due_for_retry(session, now)
    found |= (
        scheduling.running_run_keys(session)
        if since is None
        else scheduling.runs_changed_since(session, since)
    )
    return found, now - MARGIN


@dataclass
class Decided(PassOutcome):
    """The decide phase's outcome: also which running runs are held by their DAG's pause."""

    held_by_pause: set[RunKey] = field(default_factory=set)
    #: Other schedulers that handed out attempts of runs this one just took over: their outcomes'
    #: wake-ups go to them (see :func:`dagflow.store.notify.channel_of`).
    handed_out_by: set[int] = field(default_factory=set)
    #: Runs this pass left for the other schedulers (its share was taken): they are to be told.
    left_for_others: set[RunKey] = field(default_factory=set)
    #: Runs this scheduler owned and gave up, being over its share: they are to be marked changed,
    #: so that the others find them, and told.
    given_up: set[RunKey] = field(default_factory=set)


def decide_runs(
    db: Database,
    cache: RunCache,
    dags: DagCache,
    *,
    dirty: set[RunKey],
    held_by_pause: set[RunKey],
    now: datetime,
    ownership: RunOwnership | None = None,
    job_id: int | None = None,
    machines: int = 1,
) -> Decided:
    """Decide the runs that changed (with ``ownership``, those of them this scheduler owns, that of
    job ``job_id``, taking new ones up to its share among the ``machines`` schedulers are alive on; see
    :mod:`dagflow.store.ownership`). Runs of paused DAGs are left as they are, as in Airflow, and
    looked at again once their DAG is unpaused.

    Every run is evaluated while reading only, in one read of the store for the whole pass (the runs
    with their DAG's paused flag in one query, their task instances from the run cache); then what was
    decided for all of them is recorded in one short write. Reading outside the write
    transactions keeps SQLite's write lock free for the workers; every write is guarded by the state
    it expects, so a change made meanwhile is never overwritten.
    """
    outcome = Decided(held_by_pause=held_by_pause)
    if not dirty and not held_by_pause:
        return outcome
    with db.reading() as session:
        running = scheduling.running_runs(session, dirty | held_by_pause)
        if ownership is not None:  # runs another scheduler owns are its to decide
            ownership.release((dirty | held_by_pause) - running.keys())
            share = _fair_share(session, machines)
            left_before = set(ownership.left)
            mine = ownership.claim(running, limit=_limit(ownership, running, share))
            outcome.left_for_others = ownership.left.keys() - left_before
            outcome.given_up = _excess(ownership, running, share)
            ownership.give_up(outcome.given_up)
            mine -= outcome.given_up
            _look_again_at_left(ownership, outcome, now)
            for key in running.keys() - mine:
                cache.forget(key)
            outcome.handed_out_by = scheduling.handed_out_by_others(session, ownership.taken, job_id=job_id)
            running = {key: run for key, run in running.items() if key in mine}
        runs = _not_paused(cache, outcome, dirty, running)
        cache.refresh(session, runs, now)
        verdicts = [_evaluate(session, cache, dags, outcome, running[key], now) for key in runs]
    _record_all(db, cache, outcome, [v for v in verdicts if v is not None], now)
    return outcome


#: The running runs a pass looks at, by key.
Running = dict[RunKey, scheduling.RunningRun]


def _fair_share(session: Session, machines: int) -> int | None:
    """How many runs each machine's scheduler may own: every running run over the machines schedulers
    are alive on, rounded up (None: no limit, its machine is the only one)."""
    if machines <= 1:
        return None
    return -(-scheduling.running_run_count(session) // machines)


def _limit(
    ownership: RunOwnership, running: dict[RunKey, scheduling.RunningRun], share: int | None
) -> int | None:
    """How many more runs this scheduler may take (None: no limit, or nothing new is on offer)."""
    if share is None or not (running.keys() - ownership.owned):
        return None
    return max(0, share - len(ownership.owned))


def _excess(
    ownership: RunOwnership, running: dict[RunKey, scheduling.RunningRun], share: int | None
) -> set[RunKey]:
    """The runs this scheduler gives up for the others: when it owns more than one over its share (a
    scheduler started on another machine, or runs ended elsewhere), down to its share, among the
    running runs of this pass, never one it just took nor one it gave up lately. One over is kept, so
    that runs do not move back and forth as each ends."""
    if share is None or len(ownership.owned) <= share + 1:
        return set()
    candidates = sorted((ownership.owned & running.keys()) - ownership.taken, key=ownership.order)
    candidates = [key for key in candidates if ownership.may_give_up(key)]
    return set(candidates[: len(ownership.owned) - share])


def _look_again_at_left(ownership: RunOwnership, outcome: Decided, now: datetime) -> None:
    """Runs left for other schedulers are looked at again once they may be taken whatever the share."""
    if ownership.left:
        outcome.recheck |= ownership.left.keys()
        outcome.timed(now + timedelta(seconds=LEAVE_FOR))


def _not_paused(
    cache: RunCache, outcome: Decided, dirty: set[RunKey], running: dict[RunKey, scheduling.RunningRun]
) -> list[RunKey]:
    """The runs to decide: the running ones of unpaused DAGs, among those that changed and those held
    by their DAG's pause (which are looked at whole again once it is unpaused)."""
    held = outcome.held_by_pause
    for key in (dirty | held) - running.keys():  # no longer running, or its DAG is gone
        cache.forget(key)
    paused = {key for key, run in running.items() if run.dag_paused}
    for key in held - paused:  # nothing in it changed while it was held: look at all of it
        cache.forget_changes(key)
    outcome.held_by_pause = paused
    return sorted(running.keys() - paused)


@dataclass
class _Verdict:
    """What was decided for one run, to be recorded."""

    stored: StoredDag
    key: RunKey
    records: RunRecords
    #: None: the run is past its ``dagrun_timeout``.
    decisions: Decisions | None


def _evaluate(
    session: Session,
    cache: RunCache,
    dags: DagCache,
    outcome: Decided,
    run: scheduling.RunningRun,
    now: datetime,
) -> _Verdict | None:
    """Evaluate one running run, reading only."""
    key = run.key
    stored = dags.for_run(session, key.dag_id, run.version_id)  # the version the run started with
    if stored is None:
        cache.forget(key)
        return None
    records = cache.records(key)
    if timed_out(stored, run.start_date, now):
        return _Verdict(stored, key, records, None)
    if stored.dagrun_timeout and run.start_date:  # looked at again then, even if nothing changes
        deadline = run.start_date + stored.dagrun_timeout
        outcome.deadlines[key] = deadline
        outcome.timed(deadline)
    decisions = decide(
        stored.spec,
        records,
        now=now,
        length_of=lambda task_id: length_of(session, stored, key, task_id),
        changed=cache.take_changes(key),
    )
    if decisions.ready and any(stored.spec.tasks[k[0]].depends_on_past for k in decisions.ready):
        held = held_by_past(session, stored, run, decisions.ready)
        if held:
            decisions.ready = [k for k in decisions.ready if k not in held]
            outcome.recheck.add(key)
            cache.forget_changes(key)  # the held ones did not change: look at all of it next time
    if decisions.waiting_until is not None:
        outcome.timed(decisions.waiting_until)
    return _Verdict(stored, key, records, decisions)


def _record_all(
    db: Database, cache: RunCache, outcome: Decided, verdicts: list[_Verdict], now: datetime
) -> None:
    """Record what was decided for the runs, all in one short write (runs past their timeout are
    failed each in its own)."""
    news = []
    for verdict in verdicts:
        decisions = verdict.decisions
        if decisions is None:
            _fail_timed_out(db, cache, outcome, verdict.stored, verdict.key, now)
        elif decisions.new_states or decisions.ready or decisions.expansions or decisions.run_state:
            news.append((verdict, decisions))
    if not news:
        return
    try:
        with db.session(write=True) as session:
            # stamped with the time of writing, not the pass's start: an upstream that ended while
            # this pass ran must not end after the downstream it let through (or the run) was decided
            written = utcnow()
            # a run another scheduler is recording is passed over (SKIP LOCKED) and decided again
            mine = scheduling.lock_runs(session, [verdict.key for verdict, _ in news])
            for verdict, decisions in news:
                if verdict.key in mine:
                    _record(session, cache, outcome, verdict, decisions, written)
                else:  # its rows will show what the other one wrote: no need to read it whole
                    outcome.dirty.add(verdict.key)
    except Exception:  # not written: read these runs again, and decide them again
        for verdict, _ in news:
            cache.forget(verdict.key)
            outcome.dirty.add(verdict.key)
        raise


def _fail_timed_out(
    db: Database, cache: RunCache, outcome: Decided, stored: StoredDag, key: RunKey, now: datetime
) -> None:
    with db.session(write=True) as session:
        run = scheduling.running_run(session, key)
        if run is not None:
            outcome.merge(fail_timed_out_run(session, stored, run, now))
    cache.forget(key)


def _record(
    session: Session,
    cache: RunCache,
    outcome: Decided,
    verdict: _Verdict,
    decisions: Decisions,
    now: datetime,
) -> None:
    stored, records, key = verdict.stored, verdict.records, verdict.key
    dag_id, run_id = key
    ti_store.apply_new_states(session, dag_id, run_id, decisions.new_states, now)
    for ti_key, new_state in decisions.new_states.items():
        records.set_state(ti_key, new_state)
    if decisions.expansions:
        for task_id, count in decisions.expansions.items():
            ti_store.expand_mapped(session, stored.spec, dag_id, run_id, task_id, count, now)
        cache.invalidate(key)
        outcome.dirty.add(key)
    empty = [k for k in decisions.ready if stored.spec.tasks[k[0]].is_empty]
    if empty:  # an EmptyOperator without callbacks succeeds without going to a worker
        ti_store.mark_empty_success(session, dag_id, run_id, empty, now)
        for ti_key in empty:
            records.set_state(ti_key, TaskState.SUCCESS).try_number += 1
        outcome.dirty.add(key)
    ready = [(k, records[k].state) for k in decisions.ready if not stored.spec.tasks[k[0]].is_empty]
    ti_store.mark_scheduled(session, dag_id, run_id, ready, now)
    for ti_key, previous in ready:
        record = records.set_state(ti_key, TaskState.SCHEDULED)
        record.try_number += 0 if previous is TaskState.UP_FOR_RESCHEDULE else 1
    if decisions.run_state is None:
        return
    run = scheduling.running_run(session, key)
    if run is not None and not ti_store.unfinished_count(session, dag_id, run_id):
        outcome.merge(finish_run(session, stored, run, decisions.run_state, now))
        cache.forget(key)
    else:  # someone changed the run meanwhile (a clear): look again
        cache.invalidate(key)
        outcome.dirty.add(key)


def length_of(session: Session, stored: StoredDag, key: RunKey, task_id: str) -> int | None:
    """How many values ``task_id``'s output offers to map over in this run (None if it pushed none)."""
    if stored.spec.tasks[task_id].is_mapped:
        return scheduling.mapped_output_count(session, key, task_id)
    return scheduling.recorded_map_length(session, key, task_id)


def held_by_past(
    session: Session, stored: StoredDag, run: scheduling.RunningRun, ready: list[Key]
) -> set[Key]:
    """Ready task instances that ``depends_on_past`` holds back (:func:`dagflow.core.past.held_by_past`)."""
    states = scheduling.previous_run_states(session, run.key.dag_id, run.logical_date)
    if states is None:
        return set()
    return {key for key in ready if past.held_by_past(stored.spec.tasks[key[0]], key[1], states)}
