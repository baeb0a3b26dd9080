"""Phase: drive the compensation of runs whose compensation is under way (see :mod:`dagflow.core.saga`).

A run that ends ``failed`` (with ``compensate_on="failure"`` and compensations in its DAG) is marked
``compensating`` in the same transaction as its end (:func:`dagflow.scheduler.create_runs.finish_run`);
``dagflow runs compensate`` marks one by hand. Each pass, this phase decides every such run with the
core's decisions, queues the compensations that may start (each with a fresh token) and returns them
as workloads; once nothing is left to run it records ``compensated`` or ``compensation_failed`` and,
for the latter, hands the DAG's ``on_compensation_failure_callback`` to a worker.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from dagflow.core.keys import RunKey
from dagflow.core.saga import RunCompensation, SagaDecisions, decide_compensations
from dagflow.core.states import TaskState
from dagflow.executors.base import Workload
from dagflow.scheduler.dags import DagCache
from dagflow.scheduler.outcome import PassOutcome
from dagflow.serialization import StoredDag
from dagflow.store import Database, Session
from dagflow.store import compensations as comp_store
from dagflow.store.compensations import CompensatingRun

#: The DAG-level callback a worker runs when a run's compensation fails.
FAILURE_CALLBACK = "compensation_failure"


def compensate_runs(db: Database, dags: DagCache, *, job_id: int | None, now: datetime) -> PassOutcome:
    """Decide every run being compensated; queue what may start; record the runs that are done."""
    outcome = PassOutcome()
    with db.reading() as session:  # (a read first: most passes find nothing to do)
        if not comp_store.compensating_runs(session, limit=1):
            return outcome
    with db.session(write=True) as session:  # (the runs locked: see compensating_runs)
        for run in comp_store.compensating_runs(session, lock=True):
            stored = dags.get(session, run.dag_id)
            if stored is None:
                continue
            outcome.merge(_compensate_run(session, stored, run, job_id, now))
    return outcome


def _compensate_run(
    session: Session, stored: StoredDag, run: CompensatingRun, job_id: int | None, now: datetime
) -> PassOutcome:
    outcome = PassOutcome()
    key = RunKey(run.dag_id, run.run_id)
    forward = comp_store.forward_states(session, key)
    states = {k: state for k, (state, _) in forward.items()}
    rows = comp_store.compensation_states(session, key)
    # a compensation recorded for an earlier try of its task (the run was cleared since) is not done
    current = [r for r in rows if (r.task_id, r.map_index) not in forward or _same_try(r, forward)]
    records = comp_store.records_of(current)
    spec = stored.spec
    decisions = decide_compensations(spec.saga_graph, states, records, now=now)
    if decisions.waiting_until is not None:
        outcome.timed(decisions.waiting_until)
    if decisions.ready:
        outcome.submit.extend(_queue(session, stored, key, forward, decisions, job_id, now))
        return outcome
    if decisions.state is not RunCompensation.COMPENSATING:
        if not comp_store.end_run_compensation(session, key, decisions.state):
            return outcome
        if decisions.state is RunCompensation.COMPENSATION_FAILED and spec.extra.get(
            "has_compensation_failure_callback"
        ):
            token = f"callback-{run.id}-{FAILURE_CALLBACK}-{uuid.uuid4().hex[:8]}"
            outcome.submit.append(
                Workload(key.ti(""), 0, token, stored.fileloc, dag_callback=FAILURE_CALLBACK)
            )
    return outcome


def _same_try(
    row: comp_store.CompensationState, forward: dict[tuple[str, int], tuple[TaskState, int]]
) -> bool:
    return row.forward_try_number == forward[(row.task_id, row.map_index)][1]


def _queue(
    session: Session,
    stored: StoredDag,
    key: RunKey,
    forward: dict[tuple[str, int], tuple[TaskState, int]],
    decisions: SagaDecisions,
    job_id: int | None,
    now: datetime,
) -> list[Workload]:
    items = []
    for node, index in decisions.ready:
        retries, _, _ = settings_of(stored, node)
        forward_try = forward.get((node, index), (TaskState.NONE, 0))[1]
        items.append(comp_store.QueueItem(key.ti(node, index), uuid.uuid4().hex, forward_try, retries))
    queued = comp_store.queue(session, items, job_id=job_id, now=now)
    return [
        Workload(
            item.key,
            0,
            item.token,
            stored.fileloc,
            execution_timeout=settings_of(stored, item.key.task_id)[2],
            compensation=True,
            queue=queue_of(stored, item.key.task_id),
        )
        for item in queued
    ]


def settings_of(stored: StoredDag, node: str) -> tuple[int, float, float | None]:
    """A compensation's retries, retry delay and timeout, as the stored DAG records them."""
    task = stored.spec.tasks.get(node)
    if task is not None:
        return task.compensation_retries, task.compensation_retry_delay, task.compensation_timeout
    group = stored.spec.compensated_groups.get(node) or {}
    return int(group.get("retries", 0)), float(group.get("retry_delay", 0.0)), group.get("timeout")


def queue_of(stored: StoredDag, node: str) -> str:
    """The queue a compensation is sent to: the one it names itself, else its task's (a task
    group's: the one its tasks share), so that it runs on the workers its task runs on."""
    task = stored.spec.tasks.get(node)
    if task is not None:
        return task.compensation_queue or task.queue
    group = stored.spec.compensated_groups.get(node) or {}
    return str(group.get("queue") or "default")
