"""A scheduler pass's queueing (:func:`dagflow.scheduler.queue_tasks.queue_scheduled`) on the store:
what it queues, and in how many statements."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from dagflow.core.states import TaskState
from dagflow.scheduler import queue_tasks
from dagflow.scheduler.dags import DagCache
from dagflow.store import task_instances as tis
from dagflow.store.models import DagRow, DagRunRow, PoolRow
from tests.backends import exchanges
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


def test_a_lone_scheduler_on_postgresql_queues_in_three_round_trips(waiting):
    """Its ``BEGIN`` goes with the pools' lock and the count of what is busy, then the read of what
    waits, then the write with the ``COMMIT``. With other schedulers alive it looks first whether
    anything waits (with the count), and locks the pools and counts again once it has read what
    waits: one round trip more."""
    run, dags = waiting
    if run.database.is_sqlite:
        pytest.skip("round trips to a server: SQLite is in the process")
    with exchanges(run.database) as shared:
        queue_tasks.queue_scheduled(run.database, dags, parallelism=4, job_id=1, now=T2, alone=False)
    with exchanges(run.database) as alone:
        queue_tasks.queue_scheduled(run.database, dags, parallelism=8, job_id=1, now=T2, alone=True)

    assert sum(s == "queued" for s in run.states().values()) == 8
    assert alone.round_trips == 3, alone.statements
    assert shared.round_trips == 4, shared.statements


def _rows_read_from_task_instances(plan: dict) -> int:
    """How many rows the scans of ``task_instance`` in an ``EXPLAIN ANALYZE`` plan returned."""
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Relation Name") == "task_instance" else 0
    return own + sum(_rows_read_from_task_instances(child) for child in plan.get("Plans", []))


def test_a_pass_reads_the_few_it_can_queue_however_many_wait(waiting):
    """On PostgreSQL a pass reads, of each running run, only the best it could queue (through the
    index of scheduled task instances), not every one that waits: its cost stays flat as a backlog
    grows (a mapped task of ten thousand), and as earlier passes queue the first ones. The table
    has no statistics yet (a new database, as a fan-out's first minute)."""
    run, _ = waiting
    if run.database.is_sqlite:
        pytest.skip("SQLite sorts what waits (it has no LATERAL): one scheduler, in process")
    with run.write() as session:  # all 1,000 wait
        keys = [(("echo", i), TaskState.NONE) for i in range(1000)]
        tis.mark_scheduled(session, run.dag_id, run.run_id, keys, T1)
    for _ in range(30):  # passes queue them, sixteen at a time: what left leaves dead index entries
        with run.write() as session:
            chosen = tis.scheduled(session, limit=16)
            tis.queue(session, [tis.QueueItem(row.key, "token") for row in chosen], now=T2, job_id=1)
    with run.database.session() as session:
        connection = session.connection()
        expanded = tis.scheduled_statement(session).compile(dialect=connection.dialect)
        state = expanded.construct_expanded_state({"limit": 16, "full_dags": []})
        cursor = connection.connection.driver_connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + state.statement, state.parameters)
        plan = cursor.fetchone()[0][0]["Plan"]
        best = tis.scheduled(session, limit=16)

    assert [row.key.map_index for row in best] == list(range(480, 496))
    assert _rows_read_from_task_instances(plan) <= 2 * 16, plan  # the best 16, then those 16 locked


def test_a_pass_queues_the_rows_it_chose_where_it_read_them(waiting):
    """On PostgreSQL the queueing writes each chosen row where the pass's read locked it (a TID
    scan), not found again by its key: without statistics the planner looked each up through the
    index on (dag_id, updated_at), passing over the DAG's other task instances."""
    run, dags = waiting
    if run.database.is_sqlite:
        pytest.skip("SQLite has no row addresses: the rows are found by their keys")
    with run.write() as session:  # the rows changed at different times, as a fan-out's do
        keys = [(("echo", i), TaskState.NONE) for i in range(1000)]
        tis.mark_scheduled(session, run.dag_id, run.run_id, keys, T1)
        spread = "UPDATE task_instance SET updated_at = updated_at + random() * interval '1 hour'"
        session.execute(text(spread))

    with exchanges(run.database) as sent:
        queued = queue_tasks.queue_scheduled(run.database, dags, parallelism=16, job_id=1, now=T2, alone=True)
    assert len(queued.workloads) == sum(state == "queued" for state in run.states().values()) == 16
    assert any("ti.ctid = q.row_id" in statement for statement in sent.statements), sent.statements

    with run.write() as session:  # the same statement, explained (and run) on the next sixteen
        chosen = tis.scheduled(session, limit=16)
        parameters = {
            "queued": "queued",
            "scheduled": "scheduled",
            "now": T2,
            "job_id": 1,
            "row_ids": [row.row_id for row in chosen],
            "dag_ids": [row.key.dag_id for row in chosen],
            "run_ids": [row.key.run_id for row in chosen],
            "task_ids": [row.key.task_id for row in chosen],
            "map_indexes": [row.key.map_index for row in chosen],
            "tokens": [f"token-{row.key.map_index}" for row in chosen],
        }
        statement = tis._QUEUE_BY_ROW.text
        for name in sorted(parameters, key=len, reverse=True):
            statement = statement.replace(f":{name}", f"%({name})s")
        cursor = session.connection().connection.driver_connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        plan = cursor.fetchone()[0][0]["Plan"]

    assert _rows_read_from_task_instances(plan) == 16, plan
    assert sum(state == "queued" for state in run.states().values()) == 32
