"""Phase: hand scheduled task instances to the executor, within the limits (:mod:`dagflow.core.dispatch`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from dagflow.core import dispatch
from dagflow.core.keys import RunKey
from dagflow.executors.base import Workload
from dagflow.scheduler.dags import DagCache
from dagflow.store import Database, Session, scheduling
from dagflow.store import task_instances as ti_store

#: How many scheduled task instances to look at for each that could be queued (some may be held by a
#: pool or a per-task limit).
LOOKAHEAD = 2


class Queued(NamedTuple):
    """What a pass queued: the workloads to hand to the executor, and whether scheduled task
    instances (of the runs it queues from) may have been left waiting for a slot."""

    workloads: list[Workload]
    waiting: bool = False


def queue_scheduled(
    db: Database,
    dags: DagCache,
    *,
    parallelism: int,
    job_id: int | None,
    now: datetime,
    runs: Collection[RunKey] | None = None,
    alone: bool = False,
) -> Queued:
    """Queue what fits now, best first; return the workloads to hand to the executor.

    What is busy, what waits and what is chosen are read and written in one short transaction (one
    round of the store a pass, and no one can take a slot between the count and the choice); the
    write is still guarded (``state = 'scheduled'``), and the executor is handed the workloads once
    the transaction has committed. With several schedulers on one PostgreSQL, the pool rows are locked
    (:func:`~dagflow.store.scheduling.lock_pools`) before what is busy is counted: one scheduler at a
    time counts and queues, so no limit is exceeded by two of them choosing at once; ``parallelism``
    counts only what this scheduler queued (``job_id``), as Airflow's counts what its executor holds.
    The candidates are read before that lock, from a count of what was busy then (the longest step:
    the scheduled task instances of every running run, ordered; their rows are locked, so another
    scheduler passes over them): the others wait only for the count, the choice and the write.

    ``runs``: only the task instances of these runs are queued. Several schedulers each queue those
    of the runs they own (:mod:`~dagflow.store.ownership`), so a finished attempt's wake-up goes to
    the scheduler that decides its run. When each queued from every run, a scheduler followed up
    attempts of runs another decided, and an outcome cost two passes (one scheduler's to follow it
    up, the owner's to find the run changed): more schedulers on one machine lowered throughput (283
    tasks/s with one, 168 with two). What a second scheduler adds is the runs it owns: a run's task
    instances are held to its owner's ``parallelism``.

    ``alone``: no other scheduler was alive at the last look (PostgreSQL). The pool rows are then
    locked first and what is busy counted once, under the lock: two statements fewer a pass, and no
    less safe should another scheduler start meanwhile (it waits for the lock, then counts).

    ``waiting`` in what it returns: task instances may wait for a slot that another scheduler's
    attempts hold (a pool, a DAG's ``max_active_tasks``); those attempts' outcomes do not wake this
    scheduler, so it looks again soon (:meth:`~dagflow.scheduler.job.Scheduler.wait`).
    """
    if runs is not None and not runs:  # another scheduler's runs only: nothing here to queue
        return Queued([])
    limits = dags.max_active_tasks()
    with scheduling.queueing(db) as transaction:
        session = transaction.session
        pools, anything, busy = transaction.begin(lock=alone, any_scheduled=not alone, job_id=job_id)
        if not anything:  # nothing waits (a transaction that only read)
            return Queued([])
        full, room = _room(busy, limits, parallelism)
        rows = []
        if room > 0:
            rows = ti_store.scheduled(session, limit=room * LOOKAHEAD, full_dags=full, runs=runs)
        if not rows:
            return Queued([], waiting=room <= 0 or bool(full))
        if pools is None:  # locked now, and what others queued meanwhile counts too
            pools, recounted = transaction.lock(recount=scheduling.others_may_queue(session), job_id=job_id)
            if recounted is not None:
                busy = recounted
        candidates = [c for c in (_candidate(session, dags, row) for row in rows) if c is not None]
        choice = dispatch.choose(
            candidates,
            busy,
            parallelism=parallelism,
            max_active_tasks=limits,
            pools=pools,
        )
        by_key = {row.key: row for row in rows}
        items, workloads = [], []
        for c in choice.chosen:
            row = by_key[c.key]
            token = uuid.uuid4().hex
            items.append(ti_store.QueueItem(row.key, token, row.row_id))
            workloads.append(_workload(session, dags, row, token, job_id))
        transaction.queue(items, now=now, job_id=job_id)
    return Queued(workloads, waiting=len(workloads) < len(rows))


def _room(busy: dispatch.Busy, limits: dict[str, int], parallelism: int) -> tuple[list[str], int]:
    """The DAGs at their ``max_active_tasks``, and at most how many task instances could be queued now:
    the free slots, or less when every DAG known has less room left (it reads that many, times
    :data:`LOOKAHEAD` for those a pool or a per-task limit holds back)."""
    full = [
        dag_id
        for dag_id, count in busy.by_dag.items()
        if count >= limits.get(dag_id, dispatch.DEFAULT_MAX_ACTIVE_TASKS)
    ]
    room = sum(max(0, limit - busy.by_dag[dag_id]) for dag_id, limit in limits.items())
    if not limits or any(dag_id not in limits for dag_id in busy.by_dag):
        room = parallelism  # a DAG not loaded yet: its room is unknown
    return full, min(parallelism - busy.total, room)


def _candidate(session: Session, dags: DagCache, row: ti_store.ScheduledRow) -> dispatch.Candidate | None:
    stored = dags.for_run(session, row.key.dag_id, row.version_id)
    spec = stored.spec.tasks.get(row.key.task_id) if stored is not None else None
    if spec is None:
        return None
    return dispatch.Candidate.of_task(
        row.key,
        spec,
        priority_weight=row.priority_weight,
        pool=row.pool,
        pool_slots=row.pool_slots,
        run_after=row.run_after,
    )


def _workload(
    session: Session, dags: DagCache, row: ti_store.ScheduledRow, token: str, job_id: int | None
) -> Workload:
    stored = dags.for_run(session, row.key.dag_id, row.version_id)
    assert stored is not None  # a candidate was made of it
    spec = stored.spec.tasks[row.key.task_id]
    return Workload(
        row.key,
        row.try_number,
        token,
        stored.fileloc,
        execution_timeout=spec.execution_timeout,
        priority_weight=row.priority_weight,
        queue=spec.queue,
        queued_by=job_id,
    )
