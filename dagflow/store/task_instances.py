"""Task instance rows: loading a run's states, applying decisions, queueing, claiming, recording outcomes.

Every change is set-based (one statement for many rows) and guarded by the state it expects, so a
row changed meanwhile by someone else (a user clearing it, another scheduler) is left alone. A
worker may only record the outcome of the attempt it claimed: ``attempt_token`` must match.

A task instance's way through the store: ``none`` -> ``scheduled`` (its dependencies are met; the
try number counts the coming try) -> ``queued`` (handed to an executor with a token) -> ``running``
(claimed by a worker) -> a finished state, ``up_for_retry`` or ``up_for_reschedule``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from dagflow.core.decisions import Key, TIRecord
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.spec import DagSpec
from dagflow.core.states import FINISHED, SCHEDULABLE, RunState, TaskState
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow
from dagflow.store.runs import task_instance_values
from dagflow.store.statistics import keep_statistics

TI = TaskInstanceRow
TABLE = TaskInstanceRow.__table__
_C = TABLE.c
SCHEDULABLE_VALUES = tuple(s.value for s in SCHEDULABLE)
CHUNK = 400
NO_SYNC = {"synchronize_session": False}


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _in_run(dag_id: str, run_id: str, keys: Sequence[Key]) -> Any:
    return and_(_C.dag_id == dag_id, _C.run_id == run_id, tuple_(_C.task_id, _C.map_index).in_(list(keys)))


def _pk(key: TIKey) -> Any:
    return and_(
        TI.dag_id == key.dag_id,
        TI.run_id == key.run_id,
        TI.task_id == key.task_id,
        TI.map_index == key.map_index,
    )


_STATES = {state.value: state for state in TaskState}


def load_records(session: Session, dag_id: str, run_id: str) -> list[TIRecord]:
    """The run's task instances as the decisions see them (:func:`changed_records` for those changed)."""
    query = select(TI.task_id, TI.map_index, TI.state, TI.try_number, TI.max_tries, TI.not_before).where(
        TI.dag_id == dag_id, TI.run_id == run_id
    )
    return [
        TIRecord(task_id, map_index, _STATES[state], try_number, max_tries, not_before)
        for task_id, map_index, state, try_number, max_tries, not_before in session.execute(query)
    ]


#: The scheduler's hottest statements, built once: each pass runs them, and building and keying a
#: statement costs more than SQLite takes to run it.
_CHANGED = select(
    _C.dag_id, _C.run_id, _C.task_id, _C.map_index, _C.state, _C.try_number, _C.max_tries, _C.not_before
).where(_C.updated_at >= bindparam("since"))


def changed_records(session: Session, changed_since: datetime) -> list[tuple[str, str, TIRecord]]:
    """``(dag_id, run_id, record)`` of every task instance changed since a moment, in any run.

    One read through the ``updated_at`` index, whatever the number or the size of the runs.
    """
    rows = session.connection().execute(_CHANGED, {"since": changed_since})
    return [
        (dag_id, run_id, TIRecord(task_id, map_index, _STATES[state], try_number, max_tries, not_before))
        for dag_id, run_id, task_id, map_index, state, try_number, max_tries, not_before in rows
    ]


def apply_new_states(
    session: Session, dag_id: str, run_id: str, new_states: dict[Key, TaskState], now: datetime
) -> None:
    """Record states decided without running (skipped, upstream_failed, removed), one statement per state."""
    by_state: dict[TaskState, list[Key]] = {}
    for key, state in new_states.items():
        by_state.setdefault(state, []).append(key)
    for state, keys in by_state.items():
        for chunk in _chunks(keys):
            session.connection().execute(
                update(TABLE)  # type: ignore[arg-type]
                .where(_in_run(dag_id, run_id, chunk), _C.state.in_(SCHEDULABLE_VALUES))
                .values(
                    state=state.value,
                    start_date=func.coalesce(_C.start_date, now),
                    end_date=now,
                    updated_at=now,
                ),
            )


def mark_scheduled(
    session: Session, dag_id: str, run_id: str, ready: Sequence[tuple[Key, TaskState]], now: datetime
) -> None:
    """Task instances whose dependencies are met become ``scheduled``; the try number counts the coming try.

    A task instance coming back from ``up_for_reschedule`` continues the same try.
    """
    resumed = [key for key, state in ready if state == TaskState.UP_FOR_RESCHEDULE]
    fresh = [key for key, state in ready if state != TaskState.UP_FOR_RESCHEDULE]
    for keys, next_try in ((fresh, _C.try_number + 1), (resumed, _C.try_number)):
        for chunk in _chunks(keys):
            session.connection().execute(
                update(TABLE)  # type: ignore[arg-type]
                .where(_in_run(dag_id, run_id, chunk), _C.state.in_(SCHEDULABLE_VALUES))
                .values(state=TaskState.SCHEDULED.value, try_number=next_try, updated_at=now),
            )


def mark_empty_success(
    session: Session, dag_id: str, run_id: str, keys: Sequence[Key], now: datetime
) -> None:
    """Task instances of operators that do nothing succeed at once (a try is counted, none runs)."""
    for chunk in _chunks(keys):
        session.connection().execute(
            update(TABLE)  # type: ignore[arg-type]
            .where(_in_run(dag_id, run_id, chunk), _C.state.in_(SCHEDULABLE_VALUES))
            .values(
                state=TaskState.SUCCESS.value,
                try_number=_C.try_number + 1,
                start_date=now,
                end_date=now,
                duration=0.0,
                updated_at=now,
            ),
        )


def expand_mapped(
    session: Session, spec: DagSpec, dag_id: str, run_id: str, task_id: str, count: int, now: datetime
) -> None:
    """Turn a mapped task's placeholder into ``count`` map indexes (extra old indexes become removed)."""
    of_task = and_(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id)
    existing = set(session.scalars(select(TI.map_index).where(of_task)))
    if -1 in existing:
        if 0 in existing:
            session.execute(delete(TI).where(of_task, TI.map_index == -1))
        else:
            session.execute(
                update(TI).where(of_task, TI.map_index == -1).values(map_index=0, updated_at=now),
                execution_options=NO_SYNC,
            )
            existing.add(0)
    missing = [i for i in range(count) if i not in existing]
    if missing:
        rows = [
            {**task_instance_values(spec, dag_id, run_id, task_id, i), "updated_at": now} for i in missing
        ]
        session.execute(insert(TI), rows)
        keep_statistics(session, len(rows))
    surplus = [i for i in existing if i >= count]
    if surplus:
        session.execute(
            update(TI)
            .where(of_task, TI.map_index.in_(surplus))
            .values(state=TaskState.REMOVED.value, updated_at=now),
            execution_options=NO_SYNC,
        )


@dataclass(frozen=True)
class ScheduledRow:
    """A scheduled task instance waiting for a slot, with what the limits need to know."""

    key: TIKey
    try_number: int
    priority_weight: int
    pool: str
    pool_slots: int
    run_after: datetime
    #: The DAG version the run started with.
    version_id: int | None = None
    #: Where the row is (PostgreSQL's ``ctid``), locked by the read: the queueing that follows in the
    #: same transaction writes it there (None on SQLite).
    row_id: str | None = None


_RUN = DagRunRow.__table__.c
_DAG = DagRow.__table__.c


def row_check(column: Any, value: Any) -> Any:
    """``column = value`` as a check on the row a statement found by its primary key, written so that
    it can never be how the row is found: PostgreSQL's statistics lag behind a fan-out (a new
    database has none for a minute, and a state rare when it last sampled may be on a thousand rows
    now), and with them it ranks an index on ``state`` or ``dag_id`` level with the primary key. One
    lookup then scanned every task instance of the DAG: 1.3 ms a row at 4,000 of them, growing with
    the DAG's history."""
    return (column + "") == value


def _live_runs(of_runs: bool, *also: Any) -> Any:
    """The running runs of unpaused DAGs (of the runs given as ``runs`` if ``of_runs``; ``also``:
    more conditions), read once, before their task instances (``MATERIALIZED``)."""
    live = (
        select(_RUN.dag_id, _RUN.run_id, _RUN.run_after, _RUN.dag_version_id)
        .join(DagRow.__table__, _DAG.dag_id == _RUN.dag_id)
        .where(_RUN.state == RunState.RUNNING.value, _DAG.is_paused.is_(False), *also)
    )
    if of_runs:
        live = live.where(tuple_(_RUN.dag_id, _RUN.run_id).in_(bindparam("runs", expanding=True)))
    return live.cte("live_runs").prefix_with("MATERIALIZED")


def _scheduled_statement(of_runs: bool) -> Any:
    """The scheduled task instances of running runs of unpaused DAGs, best first (of the runs given
    as ``runs`` if ``of_runs``). The runs are read once, before the task instances
    (``MATERIALIZED``): the planner's statistics take scheduled task instances for rare (a fan-out
    makes a thousand at once), and, joined row by row, every one of them cost a lookup of its run
    and its DAG on every pass."""
    runs = _live_runs(of_runs)
    return (
        select(
            _C.dag_id,
            _C.run_id,
            _C.task_id,
            _C.map_index,
            _C.try_number,
            _C.priority_weight,
            _C.pool,
            _C.pool_slots,
            runs.c.run_after,
            runs.c.dag_version_id,
            null().label("row_id"),
        )
        .join(runs, and_(runs.c.dag_id == _C.dag_id, runs.c.run_id == _C.run_id))
        .where(
            _C.state == TaskState.SCHEDULED.value,
            _C.dag_id.not_in(bindparam("full_dags", expanding=True)),
        )
        .order_by(_C.priority_weight.desc(), runs.c.run_after, _C.dag_id, _C.run_id, _C.task_id, _C.map_index)
        .limit(bindparam("limit"))
        # rows another scheduler's transaction is writing are passed over, not waited for
        .with_for_update(of=TABLE, skip_locked=True)
    )


_SCHEDULED_LITERAL = f"'{TaskState.SCHEDULED.value}'"


def _best_of_each_run_statement(of_runs: bool) -> Any:
    """The same as :func:`_scheduled_statement`, read through ``idx_task_instance_scheduled`` (a
    partial index of each run's scheduled task instances, best first): the best ``limit`` of each
    running run, then the best ``limit`` of those (within a run, the order of the whole reduces to
    the index's). A pass then reads a few rows per run, however many wait: sorting every scheduled
    task instance took 3 ms a read with a thousand waiting and 30 ms with ten thousand, this about
    1 ms with a hundred as with ten thousand (bench/RESULTS.md, "Issue 14, continued (9)"). Only
    the chosen rows are locked, those another scheduler holds passed over; a row queued meanwhile is
    passed over too (its state is checked again on the locked row). PostgreSQL only: SQLite has no
    ``LATERAL``."""
    runs = _live_runs(of_runs, _RUN.dag_id.not_in(bindparam("full_dags", expanding=True)))
    ti = TABLE.alias("waiting")
    best_of_run = (
        select(
            ti.c.dag_id,
            ti.c.run_id,
            ti.c.task_id,
            ti.c.map_index,
            ti.c.priority_weight,
            literal_column(f"{ti.name}.ctid").label("row_id"),
        )
        .where(
            ti.c.dag_id == runs.c.dag_id,
            ti.c.run_id == runs.c.run_id,
            # the index's predicate, word for word and in literals (a prepared statement's generic
            # plan could not use the index for a parameter), an expression no other index matches
            # and no other statement writes (see idx_task_instance_scheduled)
            literal_column(f"coalesce({ti.name}.state, '')") == literal_column(_SCHEDULED_LITERAL),
        )
        .order_by(ti.c.priority_weight.desc(), ti.c.task_id, ti.c.map_index)
        .limit(bindparam("limit"))
        .lateral("best_of_run")
    )
    best = best_of_run.c
    keys = (best.dag_id, best.run_id, best.task_id, best.map_index)
    order = (best.priority_weight.desc(), runs.c.run_after, *keys)
    chosen = (
        select(*best, runs.c.run_after, runs.c.dag_version_id)
        .select_from(runs)
        .join(best_of_run, true())
        .order_by(*order)
        .limit(bindparam("limit"))
        .cte("chosen")
        .prefix_with("MATERIALIZED")
    )
    # each chosen row locked where it was read, by its physical address (a lateral subquery that
    # locks runs once per row; found by the primary key instead, a new database's missing
    # statistics had PostgreSQL look it up through the index on (dag_id, updated_at), reading every
    # task instance of the DAG for each), those another scheduler holds passed over; a row updated
    # since it was read has moved, and waits for the next pass
    locked = (
        select(_C.dag_id, _C.run_id, _C.task_id, _C.map_index, _C.try_number, _C.pool, _C.pool_slots)
        .where(
            literal_column("task_instance.ctid") == chosen.c.row_id,
            _C.dag_id == chosen.c.dag_id,
            _C.run_id == chosen.c.run_id,
            _C.task_id == chosen.c.task_id,
            _C.map_index == chosen.c.map_index,
            row_check(_C.state, TaskState.SCHEDULED.value),
        )
        .with_for_update(skip_locked=True)
        .lateral("locked")
    )
    return (
        select(
            locked.c.dag_id,
            locked.c.run_id,
            locked.c.task_id,
            locked.c.map_index,
            locked.c.try_number,
            chosen.c.priority_weight,
            locked.c.pool,
            locked.c.pool_slots,
            chosen.c.run_after,
            chosen.c.dag_version_id,
            chosen.c.row_id,
        )
        .select_from(chosen)
        .join(locked, true())
        .order_by(
            chosen.c.priority_weight.desc(),
            chosen.c.run_after,
            chosen.c.dag_id,
            chosen.c.run_id,
            chosen.c.task_id,
            chosen.c.map_index,
        )
    )


_SCHEDULED = _scheduled_statement(of_runs=False)
_SCHEDULED_OF_RUNS = _scheduled_statement(of_runs=True)
_BEST_OF_EACH_RUN = _best_of_each_run_statement(of_runs=False)
_BEST_OF_EACH_RUN_OF_RUNS = _best_of_each_run_statement(of_runs=True)


ANY_SCHEDULED = select(_C.dag_id).where(_C.state == TaskState.SCHEDULED.value).limit(1)


def any_scheduled(session: Session) -> bool:
    """Whether some task instance waits for a slot (one read through the state index)."""
    return session.connection().execute(ANY_SCHEDULED).first() is not None


def scheduled_statement(session: Session, *, of_runs: bool = False) -> Any:
    """The statement :func:`scheduled` runs on this session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return _BEST_OF_EACH_RUN_OF_RUNS if of_runs else _BEST_OF_EACH_RUN
    return _SCHEDULED_OF_RUNS if of_runs else _SCHEDULED


def scheduled(
    session: Session, limit: int, *, full_dags: Collection[str] = (), runs: Collection[RunKey] | None = None
) -> list[ScheduledRow]:
    """Scheduled task instances of running runs of unpaused DAGs, best first; none of ``full_dags``
    (DAGs at their ``max_active_tasks``: none of theirs could be queued now); only of ``runs`` if
    given."""
    params: dict[str, Any] = {"limit": limit, "full_dags": list(full_dags)}
    if runs is not None:
        if not runs:
            return []
        params["runs"] = [(key.dag_id, key.run_id) for key in runs]
    rows = session.connection().execute(scheduled_statement(session, of_runs=runs is not None), params)
    return [
        ScheduledRow(TIKey(d, r, t, m), tn, pw, pool, slots, after, version, row_id)
        for d, r, t, m, tn, pw, pool, slots, after, version, row_id in rows
    ]


@dataclass(frozen=True)
class QueueItem:
    """A scheduled task instance handed to the executor, with its token."""

    key: TIKey
    token: str
    #: Where the row is, if the read that chose it locked it there (:attr:`ScheduledRow.row_id`).
    row_id: str | None = None


_QUEUE = (
    update(TABLE)  # type: ignore[arg-type]
    .where(
        _C.dag_id == bindparam("k_dag_id"),
        _C.run_id == bindparam("k_run_id"),
        _C.task_id == bindparam("k_task_id"),
        _C.map_index == bindparam("k_map_index"),
        row_check(_C.state, TaskState.SCHEDULED.value),
    )
    .values(
        state=TaskState.QUEUED.value,
        queued_at=bindparam("v_now"),
        attempt_token=bindparam("v_token"),
        queued_by_job_id=bindparam("v_job_id"),
        updated_at=bindparam("v_now"),
    )
)


#: On PostgreSQL, every task instance a pass queues in one statement: the keys and tokens go as
#: arrays, joined to the rows by their primary key. Run once per item, the update cost a statement's
#: execution, planning and client round of conversions for each of them (most of a scheduler's
#: statements in a fan-out). The guard on ``state`` is written as in :func:`row_check`.
_QUEUE_ALL = text(
    "UPDATE task_instance AS ti SET state = :queued, queued_at = :now, attempt_token = q.token,"
    " queued_by_job_id = :job_id, updated_at = :now"
    " FROM unnest(CAST(:dag_ids AS text[]), CAST(:run_ids AS text[]), CAST(:task_ids AS text[]),"
    " CAST(:map_indexes AS integer[]), CAST(:tokens AS text[]))"
    " AS q(dag_id, run_id, task_id, map_index, token)"
    " WHERE ti.dag_id = q.dag_id AND ti.run_id = q.run_id AND ti.task_id = q.task_id"
    " AND ti.map_index = q.map_index AND (ti.state || '') = :scheduled"
)


#: The same, for rows the pass's read locked and located (:attr:`QueueItem.row_id`): each is updated
#: where it is (a TID scan, which the planner knows returns as many rows as it is given). Found by
#: its key instead, a new database's missing statistics had PostgreSQL look each one up through the
#: index on (dag_id, updated_at), passing over the DAG's other task instances (3 ms a pass for
#: sixteen of a thousand); joined by ``ctid = q.row_id`` alone, it merged the whole index of
#: scheduled task instances with them.
_QUEUE_BY_ROW = text(
    "UPDATE task_instance AS ti SET state = :queued, queued_at = :now, attempt_token = q.token,"
    " queued_by_job_id = :job_id, updated_at = :now"
    " FROM unnest(CAST(:row_ids AS tid[]), CAST(:dag_ids AS text[]), CAST(:run_ids AS text[]),"
    " CAST(:task_ids AS text[]), CAST(:map_indexes AS integer[]), CAST(:tokens AS text[]))"
    " AS q(row_id, dag_id, run_id, task_id, map_index, token)"
    " WHERE ti.ctid = ANY(CAST(:row_ids AS tid[])) AND ti.ctid = q.row_id"
    " AND ti.dag_id = q.dag_id AND ti.run_id = q.run_id"
    " AND ti.task_id = q.task_id AND ti.map_index = q.map_index AND (ti.state || '') = :scheduled"
)


def queue_on_postgres(
    items: Sequence[QueueItem], *, now: datetime, job_id: int | None
) -> tuple[Any, dict[str, Any]]:
    """The statement that queues ``items`` on PostgreSQL, all in one, and its parameters."""
    keys = [i.key for i in items]
    located = all(i.row_id is not None for i in items)
    return _QUEUE_BY_ROW if located else _QUEUE_ALL, {
        **({"row_ids": [i.row_id for i in items]} if located else {}),
        "queued": TaskState.QUEUED.value,
        "scheduled": TaskState.SCHEDULED.value,
        "now": now,
        "job_id": job_id,
        "dag_ids": [k.dag_id for k in keys],
        "run_ids": [k.run_id for k in keys],
        "task_ids": [k.task_id for k in keys],
        "map_indexes": [k.map_index for k in keys],
        "tokens": [i.token for i in items],
    }


def queue(session: Session, items: Sequence[QueueItem], *, now: datetime, job_id: int | None) -> int:
    """Mark scheduled task instances queued; return how many were (a row changed meanwhile is skipped)."""
    if not items:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        statement, values = queue_on_postgres(items, now=now, job_id=job_id)
        return int(session.connection().execute(statement, values).rowcount)
    params = [
        {
            "k_dag_id": i.key.dag_id,
            "k_run_id": i.key.run_id,
            "k_task_id": i.key.task_id,
            "k_map_index": i.key.map_index,
            "v_token": i.token,
            "v_now": now,
            "v_job_id": job_id,
        }
        for i in items
    ]
    result = session.connection().execute(_QUEUE, params)
    return int(result.rowcount)


def requeue(
    session: Session,
    *,
    not_job_ids: Sequence[int] | None = None,
    job_id: int | None = None,
    keys: Sequence[TIKey] | None = None,
    now: datetime,
) -> int:
    """Queued task instances whose executor is gone go back to ``scheduled``, to be handed out again:
    those of ``keys`` if given (none if it is empty), those not queued by ``not_job_ids`` if given,
    those queued by the scheduler of ``job_id`` if given."""
    if keys is not None and not keys:
        return 0
    query = update(TI).where(TI.state == TaskState.QUEUED.value)
    if not_job_ids is not None:
        query = query.where(or_(TI.queued_by_job_id.is_(None), TI.queued_by_job_id.not_in(list(not_job_ids))))
    if job_id is not None:
        query = query.where(TI.queued_by_job_id == job_id)
    if keys is not None:
        query = query.where(
            tuple_(TI.dag_id, TI.run_id, TI.task_id, TI.map_index).in_(
                [(k.dag_id, k.run_id, k.task_id, k.map_index) for k in keys]
            )
        )
    result = session.execute(
        query.values(state=TaskState.SCHEDULED.value, attempt_token=None, queued_at=None, updated_at=now),
        execution_options=NO_SYNC,
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def skip(
    session: Session | Connection,
    dag_id: str,
    run_id: str,
    task_ids: Sequence[str],
    now: datetime,
    *,
    map_index: int | None = None,
) -> None:
    """Skip these tasks' task instances in the run, where they have not started (with
    ``map_index``, only that map index of each)."""
    query = update(TI).where(
        TI.dag_id == dag_id,
        TI.run_id == run_id,
        TI.task_id.in_(list(task_ids)),
        TI.state.in_((TaskState.NONE.value, TaskState.SCHEDULED.value)),
    )
    if map_index is not None:
        query = query.where(TI.map_index == map_index)
    session.execute(
        query.values(state=TaskState.SKIPPED.value, start_date=now, end_date=now, updated_at=now),
        execution_options=NO_SYNC,
    )


@dataclass(frozen=True)
class RunningAttempt:
    key: TIKey
    token: str | None
    try_number: int
    max_tries: int
    start_date: datetime | None
    heartbeat_at: datetime | None
    pid: int | None
    hostname: str | None


def running_attempts(session: Session, *, heartbeat_before: datetime | None = None) -> list[RunningAttempt]:
    """Running task instances; with ``heartbeat_before``, only those whose last heartbeat is older."""
    query = select(
        TI.dag_id,
        TI.run_id,
        TI.task_id,
        TI.map_index,
        TI.attempt_token,
        TI.try_number,
        TI.max_tries,
        TI.start_date,
        TI.heartbeat_at,
        TI.pid,
        TI.hostname,
    ).where(TI.state == TaskState.RUNNING.value)
    if heartbeat_before is not None:
        query = query.where(or_(TI.heartbeat_at.is_(None), TI.heartbeat_at < heartbeat_before))
    return [
        RunningAttempt(TIKey(d, r, t, m), token, tn, mt, sd, hb, pid, host)
        for d, r, t, m, token, tn, mt, sd, hb, pid, host in session.execute(query)
    ]


BUSY = (
    select(
        _C.dag_id, _C.run_id, _C.task_id, _C.pool, _C.queued_by_job_id, func.count(), func.sum(_C.pool_slots)
    )
    .where(_C.state.in_((TaskState.QUEUED.value, TaskState.RUNNING.value)))
    .group_by(_C.dag_id, _C.run_id, _C.task_id, _C.pool, _C.queued_by_job_id)
)


def busy_counts(session: Session) -> list[Row[Any]]:
    """Queued and running task instances, grouped by DAG, run, task, pool and the scheduler that
    queued them (for the limits)."""
    return list(session.connection().execute(BUSY))


def unfinished_count(session: Session, dag_id: str, run_id: str) -> int:
    """How many of the run's task instances are not finished."""
    finished = tuple(s.value for s in FINISHED)
    query = (
        select(func.count())
        .select_from(TI)
        .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.state.not_in(finished))
    )
    return int(session.scalar(query) or 0)
