"""A run that adds many task instances to a table PostgreSQL has no statistics for (a new database,
or a table analyzed while small) refreshes them, so that what follows finds each task instance by
its key: a claim, an outcome, a heartbeat, a queueing."""

from __future__ import annotations

import pytest

from dagflow.store.task_instances import expand_mapped
from tests.store.test_queueing_pass import _rows_read_from_task_instances
from tests.store.test_runs_and_task_instances import MANY, T0, new_run

#: A claim's shape: the key, and the state as a check on the row found (see row_check).
CLAIM = (
    "UPDATE task_instance SET state = 'running' WHERE dag_id = %s AND run_id = %s AND task_id = %s"
    " AND map_index = %s AND (state || '') = %s"
)


def _claim_plan(run, map_index: int) -> dict:
    with run.write() as session:
        cursor = session.connection().connection.driver_connection.cursor()
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + CLAIM, (run.dag_id, run.run_id, "echo", map_index, "none")
        )
        plan = cursor.fetchone()[0][0]["Plan"]
        session.rollback()
    return plan


@pytest.fixture
def many(store_dags):
    if store_dags.database.is_sqlite:
        pytest.skip("PostgreSQL's planner; SQLite finds a row by its key without statistics")
    store_dags.write("many.py", MANY)
    return store_dags


def test_a_big_new_run_in_a_table_without_statistics_is_found_by_key(many):
    """A new database: the mapped task's thousand task instances are its first rows."""
    run = new_run(many.database, many.stored("many"))
    with run.write() as session:
        expand_mapped(session, run.stored.spec, run.dag_id, run.run_id, "echo", 1000, T0)

    for map_index in (7, 500, 999):
        assert _rows_read_from_task_instances(_claim_plan(run, map_index)) == 1
