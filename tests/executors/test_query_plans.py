"""The statements a worker and the scheduler run for every task find their row by its primary key on
PostgreSQL, whatever the planner's statistics say: after a fan-out, a state the statistics last saw
on no row (``scheduled``, ``queued``) is on thousands, and an index on ``state`` or ``dag_id`` that
the planner ranked level with the primary key then scans all of them for each row written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, literal, select, text
from sqlalchemy.sql import Executable

from dagflow.config import Settings
from dagflow.executors.inline import InlineExecutor
from dagflow.scheduler.job import Scheduler, SchedulerOptions
from dagflow.store import attempts, planner, task_instances
from dagflow.store.engine import Database
from dagflow.store.migrate import open_current
from dagflow.store.models import TaskInstanceRow
from tests.conftest import DagsFolder
from tests.executors.conftest import QueuedWork, queued_work

TABLE: Table = TaskInstanceRow.__table__  # type: ignore[assignment]
COPIES = 40


def add_task_instances(database: Database, queued: QueuedWork, state: str) -> None:
    """2,000 more task instances in the run (copies of its ``noop_*`` ones), in ``state``."""
    copied = [
        (
            (TABLE.c.task_id + literal("_copy_") + text("g::text")).label("task_id")
            if column.name == "task_id"
            else literal(state).label("state")
            if column.name == "state"
            else column
        )
        for column in TABLE.c
    ]
    rows = (
        select(*copied)
        .select_from(TABLE.join(text(f"generate_series(1, {COPIES}) AS g"), literal(True)))
        .where(TABLE.c.task_id.like("noop_%"), TABLE.c.run_id == queued.run_id)
    )
    with database.engine.begin() as connection:
        connection.execute(TABLE.insert().from_select([c.name for c in TABLE.c], rows))
    with database.engine.connect() as connection:  # the row counts analyzing reads, now
        connection.execute(text("SELECT pg_stat_force_next_flush()"))


@pytest.fixture
def skewed(database: Database, queued: QueuedWork) -> QueuedWork:
    """2,000 more task instances in the run, analyzed while all of them had succeeded, then made
    ``scheduled`` (the statistics now say no row is scheduled), and one queued."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner")
    add_task_instances(database, queued, "success")
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE task_instance")
    with database.engine.begin() as connection:
        connection.execute(TABLE.update().where(TABLE.c.task_id.like("%_copy_%")).values(state="scheduled"))
    queued.workloads(["noop_0"])
    return queued


def plan(database: Database, statement: Any, params: dict[str, Any]) -> str:
    compiled = (
        statement.compiled(database.engine.dialect)
        if isinstance(statement, attempts.Prepared)
        else attempts.Prepared(statement).compiled(database.engine.dialect)
    )
    with database.engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("EXPLAIN " + compiled.sql, compiled.parameters(params))
        return "\n".join(row[0] for row in cursor.fetchall())


KEYED: dict[str, Executable | attempts.Prepared] = {
    "queue (scheduler)": task_instances._QUEUE,
    "claim (worker)": attempts._CLAIM,
    "heartbeat (worker)": attempts._HEARTBEAT,
    "outcome (worker)": attempts._FINISH,
}


@pytest.mark.parametrize("name", list(KEYED))
def test_a_task_instance_written_for_each_task_is_found_by_its_primary_key(
    database: Database, skewed: QueuedWork, name: str
):
    found = plan(database, KEYED[name], key_params(skewed, "noop_3_copy_7"))
    assert "task_instance_pkey" in found, found
    assert "idx_task_instance" not in found, found


def key_params(queued: QueuedWork, task_id: str) -> dict[str, Any]:
    key = queued.key(task_id)
    return {
        "k_dag_id": key.dag_id,
        "k_run_id": key.run_id,
        "k_task_id": key.task_id,
        "k_map_index": key.map_index,
        "k_token": "a-token",
    }


@pytest.fixture
def new_database(
    empty_database_url: str, dags_folder: DagsFolder, dagflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[QueuedWork]:
    """The ``work`` run in a database made a moment ago: none of its tables was ever analyzed."""
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner")
    monkeypatch.setenv("DAGFLOW__DATABASE__URL", empty_database_url)
    database = open_current(empty_database_url, upgrade=True)
    try:
        yield queued_work(database, dags_folder, dagflow_home)
    finally:
        database.dispose()


def test_a_new_databases_task_tables_get_statistics_once_they_hold_rows(new_database: QueuedWork):
    database = new_database.db
    with database.reading() as session:  # 52 task instances: not worth it yet
        assert planner.analyze_new_tables(session.connection()) == ([], True)
    add_task_instances(database, new_database, "success")
    with database.reading() as session:
        analyzed, pending = planner.analyze_new_tables(session.connection())
    assert analyzed == ["task_instance"] and not pending  # the others are (nearly) empty: left to autovacuum
    found = plan(database, attempts._CLAIM, key_params(new_database, "noop_3_copy_7"))
    assert "task_instance_pkey" in found, found
    with database.reading() as session:  # analyzed once: not again
        assert planner.analyze_new_tables(session.connection()) == ([], False)


def test_the_scheduler_gives_a_new_databases_tables_their_statistics(new_database: QueuedWork):
    database = new_database.db
    add_task_instances(database, new_database, "success")
    scheduler = Scheduler(
        Settings.load(),
        InlineExecutor(new_database.worker_settings),
        options=SchedulerOptions(run_processor=False),
        db=database,
    )
    scheduler.run(max_passes=1)
    with database.engine.connect() as connection:
        analyzed = connection.execute(
            text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'task_instance'")
        ).scalar_one()
    assert analyzed
