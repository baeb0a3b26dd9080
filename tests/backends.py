"""Metadata-store backends for tests: a fresh, migrated database per test, on SQLite and on PostgreSQL.

SQLite is always tested. PostgreSQL is tested whenever ``DAGFLOW_TEST_DATABASE_URL`` names a
database on a server where that user may create databases (``.ci/run`` sets it): each test gets a
database of its own, copied from a template migrated once per session, and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dagflow.store.engine import Database
from dagflow.store.migrate import migrate

POSTGRES_ENV = "DAGFLOW_TEST_DATABASE_URL"


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
    """Fresh PostgreSQL databases, created from one migrated template database."""

    def __init__(self, admin_url: str):
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.template = f"dagflow_tmpl_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{self.template}"')
        database = Database(self._url(self.template))
        migrate(database)
        database.dispose()

    def _url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def new_url(self, folder: Path) -> str:
        name = f"dagflow_t_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.admin.dispose()


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
