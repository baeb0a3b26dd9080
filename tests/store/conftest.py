"""Fixtures of the store tests, on top of ``tests/conftest.py`` (which gives ``database`` on every backend).

* ``store_dags``: DAG files written to a DAGs folder and recorded in the test's store by the DAG
  processor, the way the scheduler's processor (or ``dagflow dags reserialize``) records them.
* ``empty_database_url``: a database with no schema at all, on the same backend as ``database_url``.
* :func:`snapshot`: every row of every table, to show that a refused action changed nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.serialization import StoredDag
from dagflow.store.engine import Database
from dagflow.store.models import Base, DagRow
from tests.backends import POSTGRES_ENV, PostgresBackend
from tests.conftest import DagsFolder


@dataclass
class StoreDags:
    """A DAGs folder whose files the DAG processor records in ``database`` as they are written."""

    folder: DagsFolder
    database: Database
    processor: DagFileProcessor
    _mtimes: dict[Path, int] = field(default_factory=dict)

    def write(self, name: str, source: str, *, scan: bool = True) -> Path:
        """Write (or rewrite) a DAG file, then let the processor record it (unless ``scan=False``)."""
        path = self.folder.write(name, source)
        self._newer_mtime(path)
        if scan:
            self.scan()
        return path

    def _newer_mtime(self, path: Path) -> None:
        """Give each write a distinct mtime: two writes within one clock tick could otherwise share one."""
        mtime = max(path.stat().st_mtime_ns, self._mtimes.get(path, 0) + 1_000_000_000)
        os.utime(path, ns=(mtime, mtime))
        self._mtimes[path] = mtime

    def scan(self) -> list[str]:
        return self.processor.scan()

    def stored(self, dag_id: str) -> StoredDag:
        with self.database.session() as session:
            row = session.get(DagRow, dag_id)
            assert row is not None, f"DAG {dag_id!r} is not in the store"
            return StoredDag.from_json(row.serialized)


@pytest.fixture
def store_dags(database: Database, dags_folder: DagsFolder) -> StoreDags:
    settings = ProcessorSettings(database_url=database.url, dags_folder=str(dags_folder), import_timeout=10)
    return StoreDags(dags_folder, database, DagFileProcessor(settings, db=database))


class EmptyPostgresDatabases:
    """Databases without tables on the test server; a used one is wiped (schema dropped) and reused.

    Creating a database costs a quarter of a second, dropping its tables a few milliseconds.
    """

    def __init__(self, admin_url: str):
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.free: list[str] = []

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        name = f"dagflow_e_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return name

    def give_back(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        engine = create_engine(self.url(name), poolclass=NullPool)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        finally:
            engine.dispose()
        self.free.append(name)

    def close(self) -> None:
        with self.admin.connect() as connection:
            for name in self.free:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def empty_postgres_databases() -> Iterator[EmptyPostgresDatabases]:
    databases = EmptyPostgresDatabases(os.environ[POSTGRES_ENV])
    yield databases
    databases.close()


@pytest.fixture
def empty_database_url(
    store_backend: object, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A database without any table, on the backend of this test's parametrization."""
    if not isinstance(store_backend, PostgresBackend):
        yield f"sqlite:///{tmp_path / 'empty' / 'dagflow.db'}"
        return
    databases: EmptyPostgresDatabases = request.getfixturevalue("empty_postgres_databases")
    name = databases.take()
    try:
        yield databases.url(name)
    finally:
        databases.give_back(name)


def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every dagflow table, sorted, so two snapshots compare equal only if nothing changed."""
    found = {}
    with database.transaction() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(select(table)).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found
