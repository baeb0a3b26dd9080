"""A scheduler pass's queueing (:func:`dagflow.scheduler.queue_tasks.queue_scheduled`) on the store:
what it queues, and in how many statements."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from dagflow.core.states import TaskState
from dagflow.scheduler import queue_tasks
from dagflow.scheduler.dags import DagCache
from dagflow.store import task_instances as tis
from dagflow.store.models import DagRow, DagRunRow, PoolRow
from tests.backends import statements_sent
from tests.store.test_runs_and_task_instances import MANY, T1, T2, Run, new_run


@pytest.fixture
def waiting(store_dags) -> tuple[Run, DagCache]:
    """A run of 1,000 mapped task instances, 100 of them scheduled, and the DAGs as a scheduler has them."""
    store_dags.write("many.py", MANY)
    run = new_run(store_dags.database, store_dags.stored("many"))
    with run.write() as session:
        session.execute(update(DagRow).where(DagRow.dag_id == "many").values(is_paused=False))
        session.execute(update(DagRunRow).where(DagRunRow.dag_id == "many").values(state="running"))
        if session.get(PoolRow, "default_pool") is None:
            session.add(PoolRow(name="default_pool", slots=128))
        keys = [("echo", i) for i in range(100)]
        tis.mark_scheduled(session, run.dag_id, run.run_id, [(k, TaskState.NONE) for k in keys], T1)
    dags = DagCache()
    with run.database.session() as session:
        dags.reload(session, None)
    return run, dags


@pytest.mark.parametrize("alone", [False, True], ids=["others-may-queue", "alone"])
def test_a_pass_queues_up_to_parallelism_and_says_the_rest_waits(waiting, alone):
    run, dags = waiting
    queued = queue_tasks.queue_scheduled(run.database, dags, parallelism=8, job_id=1, now=T2, alone=alone)

    states = run.states()
    assert sum(state == "queued" for state in states.values()) == len(queued.workloads) == 8
    assert {w.key.map_index for w in queued.workloads} == {
        map_index for (_, map_index), state in states.items() if state == "queued"
    }
    assert queued.waiting, "92 scheduled task instances were left for want of a slot"


def test_a_lone_scheduler_on_postgresql_queues_with_two_statements_fewer(waiting):
    run, dags = waiting
    if run.database.is_sqlite:
        pytest.skip("SQLite has one writer: there is nothing to count again after the lock")
    with statements_sent(run.database) as shared:
        queue_tasks.queue_scheduled(run.database, dags, parallelism=4, job_id=1, now=T2, alone=False)
    with statements_sent(run.database) as alone:
        queue_tasks.queue_scheduled(run.database, dags, parallelism=8, job_id=1, now=T2, alone=True)

    assert sum(s == "queued" for s in run.states().values()) == 8
    assert len(alone) == len(shared) - 2, (shared, alone)
