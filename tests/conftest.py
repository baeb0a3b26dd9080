"""Fixtures shared by every test module.

* ``dagflow_home`` (autouse): every test gets its own empty ``DAGFLOW_HOME`` and no ``DAGFLOW__*``
  variables from the developer's shell, so nothing reads or writes ``~/dagflow`` and settings are the
  defaults unless a test sets them.
* ``dags_folder``: an empty DAGs folder plus a ``write(name, source)`` helper that writes a DAG file
  into it (source is dedented, sub-folders are created). Loading a folder puts it on ``sys.path``
  and its helper modules in ``sys.modules``; both are cleaned up after the test.
* ``cli_runner``: a click ``CliRunner`` whose ``result.stdout`` and ``result.stderr`` are separate.
* ``database_url`` (parametrized over the backends of :mod:`tests.backends`): a fresh, migrated
  metadata store for this test, also set as ``DAGFLOW__DATABASE__URL``; ``database`` opens it.
* ``empty_database_url``: a database with no schema at all, on the same backend as ``database_url``
  (on PostgreSQL, one made for it or wiped: none of its tables was ever analyzed).
"""

from __future__ import annotations

import inspect
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from dagflow.secrets.masker import masker
from dagflow.store.engine import Database
from tests.backends import POSTGRES_ENV, PostgresBackend, backend_names, fresh_database, open_backend


@pytest.fixture(autouse=True)
def dagflow_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``DAGFLOW_HOME`` for this test, with every ``DAGFLOW__SECTION__KEY`` variable unset."""
    home = tmp_path_factory.mktemp("dagflow_home")
    monkeypatch.setenv("DAGFLOW_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("DAGFLOW__"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture(autouse=True)
def forget_secrets() -> Iterator[None]:
    """Secrets a test's tasks read are masked in this process from then on (as in a worker): forget
    them afterwards, so one test's secret never masks another test's text."""
    yield
    masker().clear()


@dataclass
class DagsFolder:
    """A temporary DAGs folder; ``write`` adds a file to it and returns its path."""

    path: Path

    def write(self, name: str, source: str) -> Path:
        """Write ``source`` (dedented) to ``name``, relative to the folder; parents are created."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source).lstrip("\n"))
        return target

    def __str__(self) -> str:
        return str(self.path)


@pytest.fixture
def dags_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsFolder]:
    """An empty DAGs folder under ``tmp_path`` (see :class:`DagsFolder`)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = (tmp_path / "dags").resolve()
    folder.mkdir()
    yield DagsFolder(folder)
    unique = folder.parent.name  # the test's own tmp_path: a cheap filter before resolving (slow) paths
    for name, module in list(sys.modules.items()):  # helper modules a DAG file imported from the folder
        location = getattr(module, "__file__", None)
        if location and unique in location and Path(location).resolve().is_relative_to(folder):
            del sys.modules[name]


@pytest.fixture
def airflow_layer() -> Iterator[None]:
    """The ``airflow`` import layer on for the test (Apache Airflow is not installed here), and as it
    was afterwards (the import layer's own tests, in ``tests/compat``, start each from fresh modules)."""
    from dagflow import compat

    was_on = compat.installed()
    assert compat.apply(True), "these tests run without Apache Airflow installed"
    yield
    if not was_on:
        compat.disable()


@pytest.fixture
def cli_runner() -> CliRunner:
    """A CliRunner whose ``result.stderr`` is captured apart from ``result.stdout``.

    click 8.2+ always separates them (``mix_stderr`` was removed); click 8.1 needs ``mix_stderr=False``.
    """
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        # mypy checks against the installed click (8.2+), which has no mix_stderr; only click 8.1 gets here.
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # pragma: no cover - click < 8.2
    return CliRunner()


@pytest.fixture(scope="session", params=backend_names())
def store_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """One backend per session (SQLite, and PostgreSQL when configured), with its migrated template."""
    backend = open_backend(request.param, tmp_path_factory.mktemp(f"backend_{request.param}"))
    yield backend
    backend.close()


@pytest.fixture
def database_url(store_backend: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated metadata store for this test, also in ``DAGFLOW__DATABASE__URL``."""
    for url in fresh_database(store_backend, tmp_path):  # type: ignore[arg-type]
        monkeypatch.setenv("DAGFLOW__DATABASE__URL", url)
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The test's metadata store, opened."""
    db = Database(database_url)
    yield db
    db.dispose()


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
