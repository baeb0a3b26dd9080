"""The scheduler's questions to the store, and its run-level and job-level writes: one function each.

Task-instance writes of the scheduler (marking scheduled, queueing, expanding) live in
:mod:`dagflow.store.task_instances`; here are the reads that find what changed, which DAGs want
runs, which runs may start, and the scheduler's own job row. Every function takes the caller's
session and never commits.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, or_, select, tuple_, union_all, update
from sqlalchemy.orm import Session

from dagflow.core.dispatch import Busy
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.states import JobState, RunState, TaskState
from dagflow.store.attempts import Prepared, is_closed, kept_connection
from dagflow.store.engine import Database
from dagflow.store.models import (
    BackfillRow,
    DagRow,
    DagRunRow,
    JobRow,
    PoolRow,
    TaskInstanceRow,
    XComRow,
)
from dagflow.store.runs import ACTIVE_RUN_STATES
from dagflow.store.task_instances import (
    ANY_SCHEDULED,
    BUSY,
    CHUNK,
    NO_SYNC,
    QueueItem,
    busy_counts,
    queue,
    queue_on_postgres,
)
from dagflow.store.task_instances import (
    any_scheduled as any_scheduled_now,
)

TI = TaskInstanceRow
RETRY_STATES = (TaskState.UP_FOR_RETRY.value, TaskState.UP_FOR_RESCHEDULE.value)
#: What a run past its ``dagrun_timeout`` skips.
UNFINISHED = (
    TaskState.NONE.value,
    TaskState.SCHEDULED.value,
    TaskState.QUEUED.value,
    TaskState.UP_FOR_RETRY.value,
    TaskState.UP_FOR_RESCHEDULE.value,
    TaskState.RUNNING.value,
)
DEFAULT_POOL = "default_pool"
DEFAULT_POOL_SLOTS = 128


# -- what changed ------------------------------------------------------------------------------


def runs_due_for_retry(session: Session, now: datetime) -> set[RunKey]:
    """Runs with a task instance waiting for a retry or a reschedule that is due."""
    query = select(TI.dag_id, TI.run_id).where(TI.state.in_(RETRY_STATES), TI.not_before <= now).distinct()
    return {RunKey(d, r) for d, r in session.execute(query)}


def running_run_keys(session: Session) -> set[RunKey]:
    query = select(DagRunRow.dag_id, DagRunRow.run_id).where(DagRunRow.state == RunState.RUNNING.value)
    return {RunKey(d, r) for d, r in session.execute(query)}


def runs_changed_since(session: Session, since: datetime) -> set[RunKey]:
    """Runs with a task instance, or their own row, stamped at or after ``since``: a run another
    scheduler started has no task instance changed yet, and is found by its row."""
    # not DISTINCT: SQLite would then walk the whole table in key order instead of the updated_at
    # index, a read that grows with the history kept
    query = union_all(
        select(TI.dag_id, TI.run_id).where(TI.updated_at >= since),
        select(DagRunRow.dag_id, DagRunRow.run_id).where(DagRunRow.updated_at >= since),
    )
    return {RunKey(d, r) for d, r in session.execute(query)}


def mark_runs_changed(session: Session, keys: Iterable[RunKey], now: datetime) -> None:
    """Stamp these runs' rows, so that every scheduler finds them changed (see :func:`runs_changed_since`):
    a run one scheduler gave up is the others' to take."""
    wanted = [tuple(key) for key in sorted(keys)]
    if wanted:
        session.execute(
            update(DagRunRow)
            .where(tuple_(DagRunRow.dag_id, DagRunRow.run_id).in_(wanted))
            .values(updated_at=now),
            execution_options={"synchronize_session": False},
        )


class RunningRun(NamedTuple):
    """What deciding a running run needs to know of it (read as plain columns: no ORM row)."""

    key: RunKey
    start_date: datetime | None
    logical_date: datetime | None
    dag_paused: bool
    version_id: int | None = None


_RUN = DagRunRow.__table__.c
_RUNNING_RUNS = (
    select(
        _RUN.dag_id,
        _RUN.run_id,
        _RUN.start_date,
        _RUN.logical_date,
        DagRow.__table__.c.is_paused,
        _RUN.dag_version_id,
    )
    .join(DagRow.__table__, DagRow.__table__.c.dag_id == _RUN.dag_id)
    .where(
        tuple_(_RUN.dag_id, _RUN.run_id).in_(bindparam("keys", expanding=True)),
        _RUN.state == RunState.RUNNING.value,
    )
)


def running_runs(session: Session, keys: Iterable[RunKey]) -> dict[RunKey, RunningRun]:
    """Those of these runs that are running, each with whether its DAG is paused."""
    found: dict[RunKey, RunningRun] = {}
    wanted = sorted(keys)
    connection = session.connection()
    for start in range(0, len(wanted), CHUNK):
        chunk = [tuple(key) for key in wanted[start : start + CHUNK]]
        for dag_id, run_id, start_date, logical_date, paused, version in connection.execute(
            _RUNNING_RUNS, {"keys": chunk}
        ):
            key = RunKey(dag_id, run_id)
            found[key] = RunningRun(key, start_date, logical_date, bool(paused), version)
    return found


def running_run(session: Session, key: RunKey) -> DagRunRow | None:
    """The run, if it is running, locked until the transaction ends (on PostgreSQL): of two schedulers
    finishing the same run, the second waits and then finds it no longer running."""
    query = (
        select(DagRunRow)
        .where(
            DagRunRow.dag_id == key.dag_id,
            DagRunRow.run_id == key.run_id,
            DagRunRow.state == RunState.RUNNING.value,
        )
        .with_for_update()
    )
    return session.scalars(query).first()


def lock_runs(session: Session, keys: Iterable[RunKey]) -> set[RunKey]:
    """Lock these runs' rows for this transaction, passing over those another scheduler holds
    (``FOR UPDATE SKIP LOCKED``, as Airflow's row-level locking); return those locked.

    SQLite has one writer at a time: every run is this transaction's.
    """
    wanted = sorted(keys)
    if not wanted or session.get_bind().dialect.name == "sqlite":
        return set(wanted)
    locked: set[RunKey] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = [tuple(key) for key in wanted[start : start + CHUNK]]
        query = (
            select(_RUN.dag_id, _RUN.run_id)
            .where(tuple_(_RUN.dag_id, _RUN.run_id).in_(chunk))
            .order_by(_RUN.dag_id, _RUN.run_id)
            .with_for_update(skip_locked=True)
        )
        locked.update(RunKey(d, r) for d, r in session.execute(query))
    return locked


def mapped_output_count(session: Session, key: RunKey, task_id: str) -> int:
    """How many map indexes of a mapped task pushed a return value in this run."""
    query = (
        select(func.count())
        .select_from(XComRow)
        .where(
            XComRow.dag_id == key.dag_id,
            XComRow.run_id == key.run_id,
            XComRow.task_id == task_id,
            XComRow.key == "return_value",
            XComRow.map_index >= 0,
        )
    )
    return int(session.scalar(query) or 0)


def recorded_map_length(session: Session, key: RunKey, task_id: str) -> int | None:
    """The length of the value an unmapped task pushed to map over (None if it pushed none yet)."""
    query = select(TI.map_length).where(
        TI.dag_id == key.dag_id, TI.run_id == key.run_id, TI.task_id == task_id, TI.map_index == -1
    )
    return session.scalar(query)


def previous_run_states(
    session: Session, dag_id: str, logical_date: datetime | None
) -> dict[tuple[str, int], str] | None:
    """The task instance states of the DAG's run before ``logical_date``; None if there is none."""
    if logical_date is None:
        return None
    previous = session.scalars(
        select(DagRunRow)
        .where(DagRunRow.dag_id == dag_id, DagRunRow.logical_date < logical_date)
        .order_by(DagRunRow.logical_date.desc())
        .limit(1)
    ).first()
    if previous is None:
        return None
    query = select(TI.task_id, TI.map_index, TI.state).where(
        TI.dag_id == dag_id, TI.run_id == previous.run_id
    )
    return {(t, m): s for t, m, s in session.execute(query)}


# -- runs to create and to start ---------------------------------------------------------------

_WANTING = (DagRow.is_paused.is_(False), DagRow.is_active.is_(True))


def dags_wanting_runs(session: Session, now: datetime) -> tuple[list[str], datetime | None]:
    """Unpaused DAGs whose next run is due or not computed yet, and when the next one after is due."""
    due = select(DagRow.dag_id).where(
        *_WANTING, or_(DagRow.next_dagrun_create_after.is_(None), DagRow.next_dagrun_create_after <= now)
    )
    later = select(func.min(DagRow.next_dagrun_create_after)).where(
        *_WANTING, DagRow.next_dagrun_create_after > now
    )
    return list(session.scalars(due)), session.scalar(later)


def schedulable_dag_rows(session: Session, dag_ids: Sequence[str]) -> list[DagRow]:
    """The rows of these DAGs that are unpaused and active, to record their next run in, locked for
    this transaction; those another scheduler holds are passed over (``SKIP LOCKED``): it is creating
    their runs, so each run is created once, as Airflow locks its DAG rows."""
    query = (
        select(DagRow)
        .where(DagRow.dag_id.in_(list(dag_ids)), *_WANTING)
        .order_by(DagRow.dag_id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def lock_dags(session: Session, dag_ids: Iterable[str]) -> set[str]:
    """Lock these DAGs' rows for this transaction, passing over those another scheduler holds; return
    those locked. Whoever holds a DAG's row alone starts or creates its runs, so ``max_active_runs``
    holds across schedulers."""
    wanted = sorted(set(dag_ids))
    if not wanted:
        return set()
    query = (
        select(DagRow.dag_id)
        .where(DagRow.dag_id.in_(wanted))
        .order_by(DagRow.dag_id)
        .with_for_update(skip_locked=True)
    )
    return set(session.scalars(query))


def has_queued_runs(session: Session) -> bool:
    """Whether some run waits to start (runs of paused DAGs wait for their unpausing: not counted)."""
    query = (
        select(DagRunRow.id)
        .join(DagRow, DagRow.dag_id == DagRunRow.dag_id)
        .where(DagRunRow.state == RunState.QUEUED.value, DagRow.is_paused.is_(False))
        .limit(1)
    )
    return session.scalar(query) is not None


def dags_with_queued_runs(session: Session) -> set[str]:
    """The DAGs with a run waiting to start."""
    query = select(DagRunRow.dag_id).where(DagRunRow.state == RunState.QUEUED.value).distinct()
    return set(session.scalars(query))


@dataclass
class RunSlots:
    """What limits the starting of queued runs: paused DAGs, runs running per DAG and per backfill."""

    paused: set[str]
    running: Counter[str]
    backfill_running: Counter[int]
    backfill_limits: dict[int, int]


def run_slots(session: Session, dag_ids: Iterable[str]) -> RunSlots:
    paused = select(DagRow.dag_id).where(DagRow.is_paused.is_(True), DagRow.dag_id.in_(set(dag_ids)))
    running = (
        select(DagRunRow.dag_id, func.count())
        .where(DagRunRow.state == RunState.RUNNING.value)
        .group_by(DagRunRow.dag_id)
    )
    backfills = (
        select(DagRunRow.backfill_id, func.count())
        .where(DagRunRow.state == RunState.RUNNING.value, DagRunRow.backfill_id.is_not(None))
        .group_by(DagRunRow.backfill_id)
    )
    return RunSlots(
        paused=set(session.scalars(paused)),
        running=Counter({dag_id: int(count) for dag_id, count in session.execute(running)}),
        backfill_running=Counter({int(b or 0): int(count) for b, count in session.execute(backfills)}),
        backfill_limits={b.id: b.max_active_runs for b in session.scalars(select(BackfillRow))},
    )


def skip_unfinished(session: Session, key: RunKey, now: datetime) -> None:
    """Skip what has not finished in the run (a run past its ``dagrun_timeout``); running tries stop."""
    session.execute(
        update(TI)
        .where(TI.dag_id == key.dag_id, TI.run_id == key.run_id, TI.state.in_(UNFINISHED))
        .values(state=TaskState.SKIPPED.value, end_date=now, updated_at=now, attempt_token=None),
        execution_options=NO_SYNC,
    )


def complete_backfill_if_done(session: Session, backfill_id: int, now: datetime) -> None:
    """Record a backfill's end once none of its runs is active."""
    remaining = session.scalar(
        select(func.count())
        .select_from(DagRunRow)
        .where(DagRunRow.backfill_id == backfill_id, DagRunRow.state.in_(ACTIVE_RUN_STATES))
    )
    if not remaining:
        backfill = session.get(BackfillRow, backfill_id)
        if backfill is not None and backfill.completed_at is None:
            backfill.completed_at = now


def active_run_count(session: Session) -> int:
    """Queued and running runs, of every DAG."""
    query = select(func.count()).select_from(DagRunRow).where(DagRunRow.state.in_(ACTIVE_RUN_STATES))
    return int(session.scalar(query) or 0)


def active_dag_ids(session: Session) -> set[str]:
    """The DAGs whose files still define them."""
    return set(session.scalars(select(DagRow.dag_id).where(DagRow.is_active.is_(True))))


_LOCK_POOLS = select(PoolRow.name, PoolRow.slots).order_by(PoolRow.name).with_for_update()


def lock_pools(session: Session) -> dict[str, int]:
    """Hold every pool's row until this transaction ends (on PostgreSQL; SQLite has one writer anyway).

    The critical section of queueing, as Airflow's: what is busy is counted and what fits is queued
    by one scheduler at a time, so the pools, ``max_active_tasks`` and the per-task limits hold across
    all of them. A second scheduler waits here for the first one's commit (milliseconds), then counts
    what it queued. Rows are taken in name order, so two lockers never deadlock. Returns each pool's
    slots, read by the same statement.
    """
    return {name: slots for name, slots in session.execute(_LOCK_POOLS)}


def others_may_queue(session: Session) -> bool:
    """Whether another scheduler may queue task instances between two statements of this session's
    transaction (on PostgreSQL; SQLite has one writer, and one scheduler)."""
    return session.get_bind().dialect.name == "postgresql"


def busy(session: Session, *, job_id: int | None = None) -> Busy:
    """What is queued or running, everywhere (all schedulers' work counts against the limits), except
    ``total``: with ``job_id``, only what that scheduler queued (``parallelism`` is per scheduler, as
    Airflow's is per executor)."""
    return _busy_of(busy_counts(session), job_id)


def _busy_of(rows: Iterable[Any], job_id: int | None) -> Busy:
    found = Busy()
    for dag_id, run_id, task_id, pool, queued_by, count, slots in map(tuple, rows):
        if job_id is None or queued_by == job_id:
            found.total += count
        found.by_dag[dag_id] += count
        found.pool_slots[pool] += int(slots or 0)
        found.by_dag_task[(dag_id, task_id)] += count
        found.by_run_task[(dag_id, run_id, task_id)] += count
    return found


_POOL_SIZES = select(PoolRow.__table__.c.name, PoolRow.__table__.c.slots)


def pool_sizes(session: Session) -> dict[str, int]:
    """Each pool's slots, by name."""
    return {name: slots for name, slots in session.connection().execute(_POOL_SIZES)}


# -- attempts whose worker or scheduler is gone ------------------------------------------------


def task_instance(session: Session, key: TIKey) -> TaskInstanceRow | None:
    return session.get(TI, (key.dag_id, key.run_id, key.task_id, key.map_index))


def stale_queued(
    session: Session, *, job_id: int | None, queued_before: datetime
) -> list[tuple[TIKey, str | None]]:
    """Task instances this scheduler queued before ``queued_before`` that are still queued, with tokens."""
    query = select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.attempt_token).where(
        TI.state == TaskState.QUEUED.value, TI.queued_by_job_id == job_id, TI.queued_at < queued_before
    )
    return [(TIKey(d, r, t, m), token) for d, r, t, m, token in session.execute(query)]


# -- the scheduler's job row -------------------------------------------------------------------


def register_scheduler(session: Session, *, hostname: str, pid: int, now: datetime) -> int:
    """Record a starting scheduler (and the default pool, if it is missing); return its job id."""
    job = JobRow(
        job_type="scheduler",
        state=JobState.RUNNING.value,
        hostname=hostname,
        pid=pid,
        start_date=now,
        latest_heartbeat=now,
    )
    session.add(job)
    session.flush()
    if session.get(PoolRow, DEFAULT_POOL) is None:
        session.add(PoolRow(name=DEFAULT_POOL, slots=DEFAULT_POOL_SLOTS, description="Default pool"))
    return job.id


class LiveSchedulers(NamedTuple):
    #: Schedulers alive besides this one.
    others: int
    #: The machines (host names) schedulers are alive on, this one's included.
    hosts: int


def live_schedulers(
    session: Session, *, job_id: int | None, hostname: str, alive_since: datetime
) -> LiveSchedulers:
    """The schedulers running with a heartbeat since ``alive_since``: how many besides ``job_id``'s,
    and on how many machines (``hostname`` is this one's)."""
    query = select(JobRow.id, JobRow.hostname).where(
        JobRow.job_type == "scheduler",
        JobRow.state == JobState.RUNNING.value,
        JobRow.latest_heartbeat >= alive_since,
    )
    others = [host for found, host in session.execute(query) if found != job_id]
    return LiveSchedulers(len(others), len({hostname, *others}))


def running_run_count(session: Session) -> int:
    """How many runs are running, of every DAG (what several schedulers share)."""
    return int(session.scalar(select(func.count()).where(DagRunRow.state == RunState.RUNNING.value)) or 0)


def scheduler_heartbeat(
    session: Session, job_id: int | None, now: datetime, *, detail: dict[str, Any] | None = None
) -> bool:
    """Beat for this scheduler; False if it had been taken for dead (it is marked running again).

    ``detail``: what the beat reports besides (its live local workers, see :mod:`dagflow.store.jobs`),
    written in the same statement, and only when it changed."""
    job = session.get(JobRow, job_id) if job_id is not None else None
    if job is None:
        return True
    job.latest_heartbeat = now
    if detail is not None and job.detail != detail:
        job.detail = detail
    if job.state == JobState.RUNNING.value:
        return True
    job.state, job.end_date = JobState.RUNNING.value, None
    return False


def end_scheduler(session: Session, job_id: int | None, now: datetime, detail: dict[str, object]) -> None:
    job = session.get(JobRow, job_id) if job_id is not None else None
    if job is not None:
        job.state, job.end_date, job.detail = JobState.SUCCESS.value, now, detail


def handed_out_by_others(session: Session, runs: Collection[RunKey], *, job_id: int | None) -> set[int]:
    """The schedulers, other than ``job_id``'s, that handed out attempts of ``runs`` still queued or
    running (a run taken over from a scheduler that is gone, or from this one's predecessor)."""
    if not runs:
        return set()
    query = (
        select(TI.queued_by_job_id)
        .distinct()
        .where(
            tuple_(TI.dag_id, TI.run_id).in_([(k.dag_id, k.run_id) for k in runs]),
            TI.state.in_([TaskState.QUEUED.value, TaskState.RUNNING.value]),
            TI.queued_by_job_id.is_not(None),
        )
    )
    return {found for found in session.scalars(query) if found is not None and found != job_id}


def fail_dead_schedulers(
    session: Session, *, alive_since: datetime, keep: int | None, now: datetime
) -> list[int]:
    """Mark failed the schedulers whose heartbeat is older than ``alive_since`` (never ``keep``, this
    one: a slow pass is no death); return the ids of those alive. (Workers' rows are left to
    :func:`~dagflow.store.jobs.fail_dead_workers`, always with the health threshold: a scheduler that
    starts alone on SQLite takes every other scheduler for dead at once, not them.)"""
    running = (JobRow.state == JobState.RUNNING.value, JobRow.job_type == "scheduler")
    alive = list(session.scalars(select(JobRow.id).where(*running, JobRow.latest_heartbeat >= alive_since)))
    if keep is not None and keep not in alive:
        alive.append(keep)
    for job in session.scalars(select(JobRow).where(*running, JobRow.id.not_in(alive))):
        job.state, job.end_date = JobState.FAILED.value, now
    return alive


# -- the queueing pass's transaction -------------------------------------------------------------


_LOCK_POOLS_SENT = Prepared(_LOCK_POOLS, literal=True)
_BUSY_SENT = Prepared(BUSY, literal=True)
_ANY_SCHEDULED_SENT = Prepared(ANY_SCHEDULED, literal=True)
#: The statements that queue task instances on PostgreSQL (:func:`queue_on_postgres`), by identity.
_QUEUE_SENT: dict[int, Prepared] = {}


class QueueingPass:
    """The transaction in which a pass counts what is busy, reads what waits and queues what fits
    (:func:`queueing`). On PostgreSQL it costs three round trips: its ``BEGIN`` goes with its first
    reads (:meth:`begin`), and its write with its ``COMMIT``; the statements that read in between
    cost one each (run on :attr:`session`). A session's own transaction would cost three more
    (``BEGIN`` alone, the write alone, ``COMMIT`` alone), while the workers and PostgreSQL hold both
    cores and each round trip waits its turn for one. Elsewhere (SQLite) it is a write session.
    """

    def __init__(self, session: Session, connection: Connection | None):
        self.session = session
        self._connection = connection  # on PostgreSQL: a connection in autocommit, BEGIN sent here
        self._items: list[QueueItem] = []
        self._now: datetime | None = None
        self._job_id: int | None = None

    def _driver(self) -> Any:
        assert self._connection is not None
        driver = self._connection.connection.driver_connection
        assert driver is not None
        return driver

    def begin(
        self, *, lock: bool, any_scheduled: bool, job_id: int | None
    ) -> tuple[dict[str, int] | None, bool, Busy]:
        """Begin: lock the pools (and read their slots) if ``lock``; look whether anything waits if
        ``any_scheduled`` (True if not asked); count what is busy (unless nothing waits). One round
        trip on PostgreSQL (its statements run one after the other there: the count sees what
        another scheduler queued before the lock was granted)."""
        if self._connection is None:
            pools = lock_pools(self.session) if lock else None
            waiting = not any_scheduled or any_scheduled_now(self.session)
            return pools, waiting, busy(self.session, job_id=job_id) if waiting else Busy()
        connection, driver = self._connection, self._driver()
        with driver.pipeline():
            driver.execute("BEGIN")
            pools_later = _LOCK_POOLS_SENT.rows_later(connection, {}) if lock else None
            any_later = _ANY_SCHEDULED_SENT.rows_later(connection, {}) if any_scheduled else None
            busy_later = _BUSY_SENT.rows_later(connection, {})
        pools = dict(pools_later()) if pools_later is not None else None
        waiting = bool(any_later()) if any_later is not None else True
        return pools, waiting, _busy_of(busy_later(), job_id)

    def lock(self, *, recount: bool, job_id: int | None) -> tuple[dict[str, int], Busy | None]:
        """Lock the pools (and read their slots) in the transaction begun, and count what is busy
        again if ``recount``: one round trip on PostgreSQL."""
        if self._connection is None:
            return lock_pools(self.session), busy(self.session, job_id=job_id) if recount else None
        connection, driver = self._connection, self._driver()
        with driver.pipeline():
            pools_later = _LOCK_POOLS_SENT.rows_later(connection, {})
            busy_later = _BUSY_SENT.rows_later(connection, {}) if recount else None
        return dict(pools_later()), _busy_of(busy_later(), job_id) if busy_later is not None else None

    def queue(self, items: Sequence[QueueItem], *, now: datetime, job_id: int | None) -> None:
        """Mark ``items`` queued (a row changed meanwhile is skipped): on PostgreSQL, sent with the
        commit."""
        if self._connection is None:
            queue(self.session, items, now=now, job_id=job_id)
            return
        self._items, self._now, self._job_id = list(items), now, job_id

    def _commit(self) -> None:
        """On PostgreSQL: the write, if any, and the ``COMMIT``, in one round trip."""
        connection, driver = self._connection, self._driver()
        assert connection is not None
        with driver.pipeline():
            if self._items:
                assert self._now is not None
                statement, values = queue_on_postgres(self._items, now=self._now, job_id=self._job_id)
                sent = _QUEUE_SENT.get(id(statement))
                if sent is None:
                    sent = _QUEUE_SENT[id(statement)] = Prepared(statement)
                sent.execute(connection, values).close()
            driver.execute("COMMIT")


@contextmanager
def queueing(db: Database) -> Iterator[QueueingPass]:
    """The queueing pass's write transaction (see :class:`QueueingPass`): committed when the block
    ends, rolled back if it raises."""
    if db.is_sqlite:
        with db.session(write=True) as session:
            yield QueueingPass(session, None)
        return
    with db.connect(write=True) as pooled:
        connection = kept_connection(pooled)
        session = Session(bind=connection)
        queueing_pass = QueueingPass(session, connection)
        driver = queueing_pass._driver()
        try:
            yield queueing_pass
            if driver.info.transaction_status.name != "IDLE":  # begun: commit (with the write, if any)
                queueing_pass._commit()
        except BaseException:
            with contextlib.suppress(Exception):  # (a connection the server dropped: see is_closed)
                driver.execute("ROLLBACK")
            if is_closed(connection):  # the pool must not hand it out again
                connection.invalidate()
            raise
        finally:
            session.close()
