"""The tables themselves: times, SQLite's settings, cascades and unique constraints, on every backend."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from dagflow.store.engine import SQLITE_BUSY_TIMEOUT_MS
from dagflow.store.models import (
    DagRunRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    XComRow,
)
from dagflow.store.runs import run_with_logical_date

BERLIN_SUMMER = timezone(timedelta(hours=2))
T0 = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def add_run(
    session, run_id: str = "r1", *, dag_id: str = "d", logical_date: datetime | None = T0
) -> DagRunRow:
    run = DagRunRow(
        dag_id=dag_id,
        run_id=run_id,
        logical_date=logical_date,
        run_after=T0,
        run_type="manual",
        state="queued",
    )
    session.add(run)
    session.flush()
    return run


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# -- times --------------------------------------------------------------------------------------------


def test_a_datetime_comes_back_in_utc_with_its_microseconds(database):
    written = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=BERLIN_SUMMER)
    with database.session(write=True) as session:
        add_run(session, logical_date=written)

    with database.session() as session:
        read = session.scalar(select(DagRunRow.logical_date))

    assert read == written
    assert read.utcoffset() == timedelta(0)
    assert read.tzinfo == UTC
    assert (read.hour, read.microsecond) == (12, 123456)


def test_a_naive_datetime_is_stored_as_utc(database):
    with database.session(write=True) as session:
        add_run(session, logical_date=datetime(2024, 5, 1, 12, 30, 15, 123456))

    with database.session() as session:
        assert session.scalar(select(DagRunRow.logical_date)) == T0


def test_a_datetime_also_comes_back_in_utc_through_a_bare_connection(database):
    with database.session(write=True) as session:
        add_run(session)

    with database.transaction() as connection:
        queued = connection.execute(select(DagRunRow.__table__.c.run_after)).scalar_one()

    assert queued.tzinfo == UTC
    assert queued == T0


def test_a_query_by_time_matches_the_same_moment_given_in_another_timezone(database):
    with database.session(write=True) as session:
        add_run(session)

    with database.session() as session:
        found = run_with_logical_date(session, "d", T0.astimezone(BERLIN_SUMMER))

    assert found is not None and found.run_id == "r1"


def test_times_order_by_moment_even_across_timezones(database):
    earlier_local = datetime(2024, 5, 1, 13, 0, tzinfo=BERLIN_SUMMER)  # 11:00 UTC
    later_utc = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with database.session(write=True) as session:
        add_run(session, "later", logical_date=later_utc)
        add_run(session, "earlier", logical_date=earlier_local)

    with database.session() as session:
        ordered = list(session.scalars(select(DagRunRow.run_id).order_by(DagRunRow.logical_date)))

    assert ordered == ["earlier", "later"]


# -- SQLite's settings -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_database(database):
    if not database.is_sqlite:
        pytest.skip("SQLite only")
    return database


def database_file(database) -> str:
    """The file of a SQLite database, for a second, plain sqlite3 connection to open."""
    path = make_url(database.url).database
    assert path is not None, f"{database.url} names no file"
    return path


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(sqlite_database):
    with sqlite_database.transaction() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert pragma("PRAGMA foreign_keys").scalar() == 1


def test_a_sqlite_write_session_holds_the_write_lock_from_its_first_statement(sqlite_database):
    """Even when it starts by reading, so it can never fail half-way on upgrading its lock."""
    path = database_file(sqlite_database)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with sqlite_database.session(write=True) as session:
            session.scalar(select(func.count()).select_from(DagRunRow))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the session ended
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_sqlite_write_transaction_holds_the_write_lock(sqlite_database):
    path = database_file(sqlite_database)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with sqlite_database.transaction(write=True) as connection:
            connection.execute(select(func.count()).select_from(DagRunRow))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_a_sqlite_read_session_does_not_take_the_write_lock(sqlite_database):
    path = database_file(sqlite_database)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with sqlite_database.session() as session:
            session.scalar(select(func.count()).select_from(DagRunRow))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


# -- cascades and constraints -------------------------------------------------------------------------


def test_deleting_a_run_deletes_its_task_instances_xcoms_and_tries(database):
    with database.session(write=True) as session:
        for run_id in ("gone", "kept"):
            add_run(session, run_id, logical_date=None)
            key = {"dag_id": "d", "run_id": run_id, "task_id": "t", "map_index": -1}
            session.execute(insert(TaskInstanceRow), [key])
            session.execute(insert(XComRow), [{**key, "key": "return_value", "value": "1", "timestamp": T0}])
            session.execute(insert(TaskInstanceTryRow), [{**key, "try_number": 1, "state": "success"}])

    with database.session(write=True) as session:
        session.execute(delete(DagRunRow).where(DagRunRow.run_id == "gone"))

    with database.session() as session:
        for model in (TaskInstanceRow, XComRow, TaskInstanceTryRow):
            assert list(session.scalars(select(model.run_id))) == ["kept"], model.__tablename__


def test_a_task_instance_needs_its_run(database):
    with pytest.raises(IntegrityError), database.session(write=True) as session:
        session.execute(
            insert(TaskInstanceRow), [{"dag_id": "d", "run_id": "missing", "task_id": "t", "map_index": -1}]
        )


def test_a_dag_cannot_have_two_runs_with_one_run_id(database):
    with database.session(write=True) as session:
        add_run(session, "same", logical_date=T0)

    with pytest.raises(IntegrityError), database.session(write=True) as session:
        add_run(session, "same", logical_date=T0 + timedelta(days=1))

    with database.session() as session:
        assert count(session, DagRunRow) == 1


def test_a_dag_cannot_have_two_runs_with_one_logical_date(database):
    with database.session(write=True) as session:
        add_run(session, "first", logical_date=T0)

    with pytest.raises(IntegrityError), database.session(write=True) as session:
        add_run(session, "second", logical_date=T0.astimezone(BERLIN_SUMMER))

    with database.session() as session:
        assert count(session, DagRunRow) == 1


def test_two_dags_may_share_run_ids_and_logical_dates(database):
    with database.session(write=True) as session:
        add_run(session, "same", dag_id="one")
        add_run(session, "same", dag_id="two")

    with database.session() as session:
        assert count(session, DagRunRow) == 2


def test_runs_without_a_logical_date_do_not_collide(database):
    with database.session(write=True) as session:
        add_run(session, "a", logical_date=None)
        add_run(session, "b", logical_date=None)

    with database.session() as session:
        assert count(session, DagRunRow) == 2
