"""The test fixtures really give each test a fresh, migrated store on every configured backend."""

from sqlalchemy import func, select

from dagflow.store.migrate import is_up_to_date
from dagflow.store.models import DagRow


def test_each_test_gets_a_migrated_empty_store(database):
    assert is_up_to_date(database)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DagRow)) == 0


def test_a_write_in_one_test_is_not_seen_by_the_next(database):
    with database.session(write=True) as session:
        session.add(DagRow(dag_id="left_behind", fileloc="x.py", serialized={}))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DagRow)) == 1
