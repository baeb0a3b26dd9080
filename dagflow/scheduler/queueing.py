"""Handing scheduled task instances to the executor, within the limits (see :mod:`dispatch`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dagflow.core import dispatch
from dagflow.executors.base import Workload
from dagflow.store import task_instances as ti_store
from dagflow.store.models import PoolRow

if TYPE_CHECKING:
    from dagflow.scheduler.job import Scheduler

#: How many scheduled task instances to look at beyond the free slots (some may be held by limits).
LOOKAHEAD = 4


def queue_scheduled(scheduler: Scheduler, now: datetime) -> int:
    """Queue what fits now, best first; return how many were handed to the executor.

    What is busy, what waits and what is chosen are read and written in one short transaction (one
    round of the store a pass, and no one can take a slot between the count and the choice); the
    write is still guarded (``state = 'scheduled'``), and the executor is handed the workloads once
    the transaction has committed.
    """
    with scheduler.db.session(write=True) as session:
        busy = busy_counts(session)
        free = scheduler.options.parallelism - busy.total
        rows = ti_store.scheduled(session, limit=max(free * LOOKAHEAD, 64)) if free > 0 else []
        if not rows:
            return 0
        pools = {name: slots for name, slots in session.execute(select(PoolRow.name, PoolRow.slots))}
        candidates = [c for c in (_candidate(scheduler, session, row) for row in rows) if c is not None]
        limits = {dag_id: stored.max_active_tasks for dag_id, stored in scheduler.state.dags.items()}
        choice = dispatch.choose(
            candidates, busy, parallelism=scheduler.options.parallelism, max_active_tasks=limits, pools=pools
        )
        by_key = {(r.key.dag_id, r.key.run_id, r.key.task_id, r.key.map_index): r for r in rows}
        items, workloads = [], []
        for c in choice.chosen:
            row = by_key[(c.dag_id, c.run_id, c.task_id, c.map_index)]
            token = uuid.uuid4().hex
            items.append(ti_store.QueueItem(row.key, token))
            workloads.append(_workload(scheduler, row, c, token))
        ti_store.queue(session, items, now=now, job_id=scheduler.job_id)
    if workloads:
        scheduler.submit(workloads)
    return len(workloads)


def _candidate(scheduler: Scheduler, session: Any, row: ti_store.ScheduledRow) -> dispatch.Candidate | None:
    stored = scheduler.stored_dag(session, row.key.dag_id)
    spec = stored.spec.tasks.get(row.key.task_id) if stored is not None else None
    if spec is None:
        return None
    return dispatch.Candidate(
        dag_id=row.key.dag_id,
        run_id=row.key.run_id,
        task_id=row.key.task_id,
        map_index=row.key.map_index,
        priority_weight=row.priority_weight,
        pool=row.pool,
        pool_slots=row.pool_slots,
        run_after=row.run_after,
        max_active_tis_per_dag=spec.max_active_tis_per_dag,
        max_active_tis_per_dagrun=spec.max_active_tis_per_dagrun,
    )


def _workload(
    scheduler: Scheduler, row: ti_store.ScheduledRow, c: dispatch.Candidate, token: str
) -> Workload:
    stored = scheduler.state.dags[c.dag_id]
    spec = stored.spec.tasks[c.task_id]
    return Workload(
        row.key,
        row.try_number,
        token,
        stored.fileloc,
        execution_timeout=spec.execution_timeout,
        priority_weight=c.priority_weight,
    )


def busy_counts(session: Any) -> dispatch.Busy:
    """What is queued or running, everywhere (all schedulers' work counts against the limits)."""
    busy = dispatch.Busy()
    for dag_id, run_id, task_id, pool, count, slots in map(tuple, ti_store.busy_counts(session)):
        busy.total += count
        busy.by_dag[dag_id] += count
        busy.pool_slots[pool] += int(slots or 0)
        busy.by_dag_task[(dag_id, task_id)] += count
        busy.by_run_task[(dag_id, run_id, task_id)] += count
    return busy
