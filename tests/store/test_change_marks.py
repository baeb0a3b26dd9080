"""Change marks move with every write a page shows, and not with a running task's heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from dagflow.core.keys import RunKey, TIKey
from dagflow.core.states import RunState
from dagflow.store import attempts, change_marks, runs
from dagflow.store.engine import Database
from dagflow.store.models import TaskInstanceRow
from tests.store.conftest import StoreDags

T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)
RUN = RunKey("marks", "manual__1")
SOURCE = """
from dagflow import DAG
from dagflow.operators import EmptyOperator

with DAG("marks", schedule=None):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


def _created(store_dags: StoreDags) -> Database:
    store_dags.write("marks.py", SOURCE)
    database = store_dags.database
    with database.session(write=True) as session:
        runs.create_run(
            session,
            store_dags.stored("marks"),
            run_id=RUN.run_id,
            logical_date=T0,
            data_interval=(T0, T0),
            run_after=T0,
            run_type="manual",
            conf={},
            now=T0,
        )
    return database


def _marks(database: Database) -> tuple[object, object, object]:
    with database.session() as session:
        return (
            change_marks.run_mark(session, run=RUN),
            change_marks.dag_mark(session, dag_id="marks"),
            change_marks.store_mark(session),
        )


def test_a_run_state_change_moves_every_mark(store_dags: StoreDags):
    database = _created(store_dags)
    before = _marks(database)
    with database.session(write=True) as session:
        run = runs.get_run(session, RUN.dag_id, RUN.run_id)
        assert run is not None
        runs.set_run_state(session, run, RunState.RUNNING, T0 + timedelta(seconds=1))
    after = _marks(database)
    assert all(b != a for b, a in zip(before, after, strict=True))


def test_a_set_based_write_of_runs_moves_the_run_mark(store_dags: StoreDags):
    database = _created(store_dags)
    with database.session() as session:
        run = runs.get_run(session, RUN.dag_id, RUN.run_id)
        assert run is not None
        run_id_number = run.id
    before = _marks(database)
    with database.session(write=True) as session:
        runs.mark_runs(session, [run_id_number], callback_sent=True)
    assert _marks(database)[0] != before[0]


def test_a_heartbeat_moves_no_mark(store_dags: StoreDags):
    database = _created(store_dags)
    key = TIKey(RUN.dag_id, RUN.run_id, "a", -1)
    ti = TaskInstanceRow
    with database.session(write=True) as session:
        session.execute(
            update(ti)
            .where(ti.dag_id == key.dag_id, ti.run_id == key.run_id, ti.task_id == key.task_id)
            .values(state="running", attempt_token="token", updated_at=T0)
        )
    before = _marks(database)
    with database.session(write=True) as session:
        assert attempts.heartbeat(session, key, token="token", now=T0 + timedelta(seconds=5))
    assert _marks(database) == before


def test_no_run_has_no_mark(store_dags: StoreDags):
    _created(store_dags)
    with store_dags.database.session() as session:
        assert change_marks.run_mark(session, run=RunKey("marks", "nope")) is None
