"""Metadata-store backends for tests: a fresh, migrated database per test, on SQLite and on PostgreSQL.

SQLite is always tested. PostgreSQL is tested whenever ``DAGFLOW_TEST_DATABASE_URL`` names a
database on a server where that user may create databases (``.ci/run`` sets it): each test gets a
database of its own, copied from a template migrated once per session, and emptied afterwards for
the next test (see :class:`PostgresBackend`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from dagflow.store.engine import Database
from dagflow.store.migrate import current_revision, migrate
from dagflow.store.models import Base

POSTGRES_ENV = "DAGFLOW_TEST_DATABASE_URL"

#: How many tests that start many processes on PostgreSQL (schedulers, their workers and DAG
#: processors, Celery workers and their pools: up to about 26 connections together) run at once
#: across pytest-xdist's processes: with the other tests running beside them they stay well under
#: the server's ``max_connections`` (100 by default), past which every new connection is refused.
MANY_PROCESSES_AT_ONCE = 2


def backend_names() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


class SqliteBackend:
    """Fresh SQLite files, copied from one migrated template."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.template = workdir / "template.db"
        database = Database(f"sqlite:///{self.template}")
        migrate(database)
        database.dispose()

    def new_url(self, folder: Path) -> str:
        target = folder / "dagflow.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        """Files go with their temporary folder."""

    def close(self) -> None:
        """Nothing to release."""


class PostgresBackend:
    """Fresh PostgreSQL databases: created from one migrated template, emptied and reused after each test.

    Creating a database copies the template's catalogs and dropping one flushes them: about half a
    second per test together. Deleting a test's rows (and dropping any table it made) takes
    milliseconds, so a used database is put back as the template left it (the rows the migrations
    seed, such as the default pool, and the sequences' positions) and handed to the next test, unless
    it is no longer at the template's schema revision; then it is dropped.
    """

    def __init__(self, admin_url: str):
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.template = f"dagflow_tmpl_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{self.template}"')
        database = Database(self._url(self.template))
        migrate(database)
        self.revision = current_revision(database)
        with database.transaction() as connection:
            self.seed = _rows_and_sequences(connection)
        database.dispose()
        self.free: list[str] = []

    def _url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, statement: str, **params: object) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement), params)

    def new_url(self, folder: Path) -> str:
        if self.free:
            return self._url(self.free.pop())
        name = f"dagflow_t_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        assert name is not None
        if self._emptied(name):
            self.free.append(name)
        else:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _emptied(self, name: str) -> bool:
        """Delete every row the test left, and drop the tables it made (``db clean``'s archives);
        its own connections are closed first. False if unusable."""
        self._execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()",
            name=name,
        )
        engine = create_engine(self._url(name), poolclass=NullPool)
        try:
            with engine.begin() as connection:
                if MigrationContext.configure(connection).get_current_revision() != self.revision:
                    return False
                made = set(inspect(connection).get_table_names()) - {*Base.metadata.tables, "alembic_version"}
                for table_name in sorted(made):
                    connection.execute(text(f'DROP TABLE "{table_name}"'))
                for table in reversed(Base.metadata.sorted_tables):
                    connection.execute(table.delete())
                _restore(connection, self.seed)
            return True
        except SQLAlchemyError:
            return False
        finally:
            engine.dispose()

    def close(self) -> None:
        for name in [*self.free, self.template]:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


Seed = tuple[dict[str, list[dict[str, object]]], list[tuple[str, int | None]]]


def _rows_and_sequences(connection: Connection) -> Seed:
    """Every row of every table, and where each sequence stands, in a freshly migrated database."""
    rows = {
        t.name: [dict(r._mapping) for r in connection.execute(t.select())]
        for t in Base.metadata.sorted_tables
    }
    query = text("SELECT sequencename, last_value FROM pg_sequences")
    return rows, [(name, last_value) for name, last_value in connection.execute(query)]


def _restore(connection: Connection, seed: Seed) -> None:
    rows, sequences = seed
    for table in Base.metadata.sorted_tables:
        if rows.get(table.name):
            connection.execute(table.insert(), rows[table.name])
    for name, last_value in sequences:
        if last_value is None:
            connection.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))
        else:
            connection.execute(
                text("SELECT setval(:name, :value)"), {"name": f'"{name}"', "value": last_value}
            )


def open_backend(name: str, workdir: Path) -> SqliteBackend | PostgresBackend:
    if name == "sqlite":
        return SqliteBackend(workdir)
    return PostgresBackend(os.environ[POSTGRES_ENV])


def fresh_database(backend: SqliteBackend | PostgresBackend, folder: Path) -> Iterator[str]:
    url = backend.new_url(folder)
    try:
        yield url
    finally:
        backend.drop(url)


@contextlib.contextmanager
def many_processes_slot(url: str) -> Iterator[None]:
    """Hold one of :data:`MANY_PROCESSES_AT_ONCE` slots while a test runs many processes on the
    PostgreSQL database ``url``, waiting for one if they are all taken. Slots are locks on files
    shared by the processes of one pytest-xdist run; a single process (no xdist), or SQLite, needs none."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run or url.startswith("sqlite"):
        yield
        return
    folder = Path(tempfile.gettempdir()) / f"dagflow-test-slots-{run}"
    folder.mkdir(exist_ok=True)
    while True:
        for number in range(MANY_PROCESSES_AT_ONCE):
            with open(folder / f"slot-{number}", "a") as slot:
                try:
                    fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(slot, fcntl.LOCK_UN)
                return
        time.sleep(0.2)


class Exchanges:
    """What :func:`exchanges` saw: ``round_trips`` (how many times a client waited for the server's
    answer: its ``ReadyForQuery`` messages, which end each exchange, a statement sent alone or a
    pipeline up to its sync) and ``statements`` (the SQL of each statement sent)."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.statements: list[str] = []


@contextlib.contextmanager
def exchanges(database: Database) -> Iterator[Exchanges]:
    """What a PostgreSQL ``database``'s clients and server said to each other while the block ran,
    read from libpq's trace of every connection checked out of the pool meanwhile (statements run
    on the driver's own cursors too, which SQLAlchemy's events do not see); filled in when it ends."""
    folder = Path(tempfile.mkdtemp(prefix="dagflow-trace-"))
    traced: list[tuple[Any, int]] = []

    def trace(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        fd = os.open(folder / f"{len(traced)}.trace", os.O_WRONLY | os.O_CREAT)
        dbapi_connection.pgconn.trace(fd)
        traced.append((dbapi_connection, fd))

    event.listen(database.engine.pool, "checkout", trace)
    found = Exchanges()
    try:
        yield found
    finally:
        event.remove(database.engine.pool, "checkout", trace)
        for dbapi_connection, fd in traced:
            dbapi_connection.pgconn.untrace()
            os.close(fd)
        for path in sorted(folder.iterdir()):
            for line in path.read_text(errors="replace").splitlines():
                fields = line.split("\t")
                if len(fields) < 4:
                    continue
                if fields[1] == "B" and fields[3] == "ReadyForQuery":
                    found.round_trips += 1
                elif fields[1] == "F" and fields[3] in ("Parse", "Query"):
                    found.statements.append(fields[4])
        shutil.rmtree(folder)


@contextlib.contextmanager
def statements_sent(database: Database) -> Iterator[list[str]]:
    """Every statement sent to ``database`` while the block runs, in order (an ``executemany`` once
    per row: the server runs it once per row)."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, _: Any, executemany: bool) -> None:
        sent.extend([statement] * (len(parameters) if executemany else 1))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
