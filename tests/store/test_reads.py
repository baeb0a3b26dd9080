"""The web UI's reads that no page test pins down alone: what counts as busy, and which task instances
are unfinished (by their keys, in order)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dagflow.core.keys import RunKey, TIKey
from dagflow.core.states import TaskState
from dagflow.store import RefusedValue, reads, scheduling
from dagflow.store.engine import Database
from dagflow.store.models import DagRow, DagRunRow, PoolRow, TaskInstanceRow

WHEN = datetime(2024, 3, 1, tzinfo=UTC)
RUN = RunKey("reads", "manual__1")
STATES = {
    ("a", -1): TaskState.QUEUED,
    ("b", 0): TaskState.RUNNING,
    ("b", 1): TaskState.RUNNING,
    ("c", -1): TaskState.SUCCESS,
    ("d", -1): TaskState.NONE,
    ("e", -1): TaskState.UPSTREAM_FAILED,
}


def seed(database: Database) -> None:
    with database.session(write=True) as session:
        session.add(DagRow(dag_id=RUN.dag_id, fileloc="/dags/reads.py", is_paused=False, is_active=True))
        session.add(PoolRow(name="small", slots=3))
        session.flush()
        session.add(
            DagRunRow(
                dag_id=RUN.dag_id,
                run_id=RUN.run_id,
                run_after=WHEN,
                run_type="manual",
                state="running",
                conf={},
            )
        )
        session.flush()
        for (task_id, map_index), state in STATES.items():
            pool, slots = ("small", 2) if task_id == "b" else ("default_pool", 1)
            session.add(
                TaskInstanceRow(
                    **RUN.ti(task_id, map_index)._asdict(), state=state.value, pool=pool, pool_slots=slots
                )
            )


def test_busy_counts_what_the_dispatch_limits_count(database: Database):
    seed(database)
    with database.session() as session:
        busy = scheduling.busy(session)
        sizes = scheduling.pool_sizes(session)
    assert busy.total == 3
    assert busy.by_dag == {RUN.dag_id: 3}
    assert busy.pool_slots == {"default_pool": 1, "small": 4}
    assert busy.by_dag_task == {(RUN.dag_id, "a"): 1, (RUN.dag_id, "b"): 2}
    assert busy.by_run_task == {(*RUN, "a"): 1, (*RUN, "b"): 2}
    assert sizes["small"] == 3


def test_unfinished_task_instances_are_keys_in_task_and_map_index_order(database: Database):
    seed(database)
    with database.session() as session:
        unfinished = reads.unfinished_task_instances(session, run=RUN)
        count = reads.task_instance_count(session, run=RUN)
    assert unfinished == [RUN.ti("a"), RUN.ti("b", 0), RUN.ti("b", 1), RUN.ti("d")]
    assert all(isinstance(key, TIKey) for key in unfinished)
    assert count == len(STATES)


def test_refused_value_is_what_the_store_raises_for_a_value_too_long(database: Database):
    if database.is_sqlite:
        pytest.skip("SQLite stores a string of any length: only PostgreSQL refuses one")
    with pytest.raises(RefusedValue), database.session(write=True) as session:
        session.add(PoolRow(name="x" * 10_000, slots=1))
