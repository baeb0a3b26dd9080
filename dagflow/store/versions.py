"""DAG versions: a new row each time a DAG's serialized structure or its file's source changes.

A run records the version it started with (``dag_run.dag_version_id``) and the scheduler decides it
on that version's structure to its end, whatever the file says meanwhile, as in Airflow 3. A worker
runs the code in its DAG file, so it checks that file first: its source must be the run's
version's, or a later version's of the DAG (the file was edited while the run went on, and the DAG
processor recorded that); a file that matches neither (a stale or diverging copy on a worker
machine) is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dagflow.serialization import StoredDag
from dagflow.store.models import DagRow, DagRunRow, DagVersionRow

V = DagVersionRow


def source_digest(source: str) -> str:
    """The hash a DAG file's source is known by (the same for the DAG processor and the workers)."""
    return hashlib.sha256(source.encode()).hexdigest()


def record_version(
    session: Session,
    row: DagRow,
    serialized: dict[str, Any],
    structure_hash: str,
    source: str | None,
    now: datetime,
) -> bool:
    """Add a version if the DAG's structure or its file's source differs from its latest; True if added."""
    source_hash = source_digest(source) if source is not None else None
    latest = session.get(V, row.dag_version_id) if row.dag_version_id is not None else None
    if (
        latest is not None
        and latest.structure_hash == structure_hash
        and (source_hash is None or latest.source_hash == source_hash)
    ):
        return False
    number = session.scalar(select(func.max(V.version_number)).where(V.dag_id == row.dag_id)) or 0
    version = V(
        dag_id=row.dag_id,
        version_number=number + 1,
        structure_hash=structure_hash,
        source_hash=source_hash,
        source=source,
        fileloc=row.fileloc,
        serialized=serialized,
        created_at=now,
    )
    session.add(version)
    session.flush()
    row.dag_version_id = version.id
    return True


def stored_version(session: Session, version_id: int) -> StoredDag | None:
    """The DAG as that version has it (what runs started on it are decided on)."""
    serialized = session.scalar(select(V.serialized).where(V.id == version_id))
    if not serialized:
        return None
    return dataclasses.replace(StoredDag.from_json(serialized), version_id=version_id)


def accepted_source_hashes(session: Session, dag_id: str, version_id: int) -> set[str]:
    """The file sources a worker may run a try of a run on ``version_id`` with: that version's and
    every later version's of the DAG."""
    number = select(V.version_number).where(V.id == version_id).scalar_subquery()
    query = select(V.source_hash).where(V.dag_id == dag_id, V.version_number >= number)
    return {h for h in session.scalars(query) if h}


@dataclass(frozen=True)
class VersionInfo:
    id: int
    dag_id: str
    version_number: int
    source_hash: str | None
    structure_hash: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dag_id": self.dag_id,
            "version_number": self.version_number,
            "source_hash": self.source_hash,
            "structure_hash": self.structure_hash,
            "created_at": self.created_at.isoformat(),
        }


def _info(row: DagVersionRow) -> VersionInfo:
    return VersionInfo(
        row.id, row.dag_id, row.version_number, row.source_hash, row.structure_hash, row.created_at
    )


def versions_of(session: Session, dag_id: str) -> list[VersionInfo]:
    """Every version of the DAG, newest first."""
    query = select(V).where(V.dag_id == dag_id).order_by(V.version_number.desc())
    return [_info(row) for row in session.scalars(query)]


#: The largest number the version column holds (a 32-bit integer).
MAX_VERSION_NUMBER = 2**31 - 1


def version_by_number(session: Session, dag_id: str, number: int) -> tuple[VersionInfo, str | None] | None:
    """A version of the DAG with the source of its file (None for a number no version can have,
    such as one beyond the column's integers, which a database would refuse)."""
    if not 0 < number <= MAX_VERSION_NUMBER:
        return None
    query = select(V).where(V.dag_id == dag_id, V.version_number == number)
    row = session.scalars(query).first()
    return (_info(row), row.source) if row is not None else None


def version_of_run(session: Session, dag_id: str, run_id: str) -> VersionInfo | None:
    """The version a run started with (None for a run recorded before versions were kept)."""
    query = (
        select(V)
        .join(DagRunRow, DagRunRow.dag_version_id == V.id)
        .where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id)
    )
    row = session.scalars(query).first()
    return _info(row) if row is not None else None


def latest_version_id(session: Session, dag_id: str) -> int | None:
    return session.scalar(select(DagRow.dag_version_id).where(DagRow.dag_id == dag_id))


def run_versions(session: Session, dag_id: str, run_ids: list[str]) -> dict[str, int]:
    """The version number each of these runs started with."""
    query = (
        select(DagRunRow.run_id, V.version_number)
        .join(V, V.id == DagRunRow.dag_version_id)
        .where(DagRunRow.dag_id == dag_id, DagRunRow.run_id.in_(run_ids))
    )
    return {run_id: number for run_id, number in session.execute(query)}
