"""The test fixtures really give each test a fresh, migrated store on every configured backend."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from dagflow.store.engine import Database
from dagflow.store.migrate import is_up_to_date, migrate
from dagflow.store.models import BackfillRow, DagRow, EventLogRow, PoolRow
from tests.store.conftest import snapshot


def test_each_test_gets_a_migrated_empty_store(database):
    assert is_up_to_date(database)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DagRow)) == 0


def test_a_write_in_one_test_is_not_seen_by_the_next(database):
    with database.session(write=True) as session:
        session.add(DagRow(dag_id="left_behind", fileloc="x.py", serialized={}))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DagRow)) == 1


@pytest.mark.parametrize("turn", ["first", "second"])
def test_a_store_used_before_is_handed_out_as_freshly_migrated(database, empty_database_url, turn):
    """On PostgreSQL the second turn gets the database the first one used and left changed."""
    fresh = Database(empty_database_url)
    migrate(fresh)
    try:
        assert snapshot(database) == snapshot(fresh)
        assert next_backfill_id(database) == next_backfill_id(fresh)
    finally:
        fresh.dispose()
    with database.session(write=True) as session:  # leave changes behind for the next turn
        session.execute(delete(PoolRow))
        session.add(DagRow(dag_id="left_behind", fileloc="x.py", serialized={}))
        session.add(EventLogRow(dttm=datetime.now(UTC), event="left"))


def next_backfill_id(db: Database) -> int:
    with db.session(write=True) as session:
        row = BackfillRow(
            dag_id="d",
            from_date=datetime.now(UTC),
            to_date=datetime.now(UTC),
            max_active_runs=1,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return row.id
