"""Fixtures of the store tests, on top of ``tests/conftest.py`` (which gives ``database`` on every backend).

* ``store_dags``: DAG files written to a DAGs folder and recorded in the test's store by the DAG
  processor, the way the scheduler's processor (or ``dagflow dags reserialize``) records them.
* :func:`snapshot`: every row of every table, to show that a refused action changed nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.serialization import StoredDag
from dagflow.store.engine import Database
from dagflow.store.models import Base, DagRow
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


def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every dagflow table, sorted, so two snapshots compare equal only if nothing changed."""
    found = {}
    with database.transaction() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(select(table)).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found
