"""DAG rows: what the DAG processor parsed, paused flags, import errors and the next scheduled run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, undefer

from dagflow.serialization import StoredDag, fingerprint, serialize_dag
from dagflow.store import versions
from dagflow.store.models import DagCodeRow, DagRow, ImportErrorRow
from dagflow.store.notify import wake_after_commit

if TYPE_CHECKING:
    from dagflow.dagbag import ImportErrorInfo
    from dagflow.models.dag import DAG


def _new_row(dag: DAG, paused_at_creation: bool) -> DagRow:
    paused = dag.is_paused_upon_creation if dag.is_paused_upon_creation is not None else paused_at_creation
    return DagRow(dag_id=dag.dag_id, fileloc=dag.fileloc, is_paused=paused, is_active=True, serialized={})


def sync_file(
    session: Session,
    filename: str,
    dags: Sequence[DAG],
    error: ImportErrorInfo | None,
    source: str | None,
    *,
    now: datetime,
    paused_at_creation: bool,
) -> list[str]:
    """Record what parsing ``filename`` gave; return the ids of DAGs whose stored version changed.

    When the file fails to import, its DAGs keep their last good version (still scheduled) and
    the import error is recorded beside them.
    """
    _record_import_error(session, filename, error, now)
    if source is not None:
        _record_source(session, filename, source, now)
    if error is not None and not dags:
        return []
    changed = []
    # locked: two DAG processors (of two schedulers) parsing the same file record one version, not two
    query = select(DagRow).where(DagRow.fileloc == filename).with_for_update()
    existing = {row.dag_id: row for row in session.scalars(query)}
    for dag in dags:
        row = existing.pop(dag.dag_id, None) or session.get(DagRow, dag.dag_id, with_for_update=True)
        if row is None:
            row = _new_row(dag, paused_at_creation)
            session.add(row)
        if _apply(session, row, dag, source, now):
            changed.append(dag.dag_id)
    if error is None:
        for gone in existing.values():
            gone.is_active = False
    return changed


def _apply(session: Session, row: DagRow, dag: DAG, source: str | None, now: datetime) -> bool:
    """Record the DAG as parsed; True if the scheduler must read it again (its structure, or its
    version, changed)."""
    serialized = serialize_dag(dag)
    digest = fingerprint(serialized)
    row.last_parsed_at = now
    row.fileloc = dag.fileloc
    if row.source_hash == digest and row.is_active:
        return versions.record_version(session, row, serialized, digest, source, now)
    info: dict[str, Any] = serialized["dag"]
    row.serialized = serialized
    row.source_hash = digest
    row.is_active = True
    row.description = info["description"]
    row.schedule = info["timetable"].get("summary")
    row.timezone = info["timezone"]
    row.tags = info["tags"]
    row.owners = ", ".join(info["owners"]) or None
    row.max_active_runs = info["max_active_runs"]
    row.max_active_tasks = info["max_active_tasks"]
    row.next_dagrun_create_after = None  # the scheduler recomputes the next run from the new schedule
    versions.record_version(session, row, serialized, digest, source, now)
    return True


def _record_import_error(
    session: Session, filename: str, error: ImportErrorInfo | None, now: datetime
) -> None:
    row = session.scalars(select(ImportErrorRow).where(ImportErrorRow.filename == filename)).first()
    if error is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = ImportErrorRow(filename=filename, message="", traceback="", timestamp=now)
        session.add(row)
    row.line, row.message, row.traceback, row.timestamp = error.line, error.message, error.traceback, now


def _record_source(session: Session, filename: str, source: str, now: datetime) -> None:
    digest = versions.source_digest(source)
    row = session.get(DagCodeRow, filename)
    if row is None:
        session.add(DagCodeRow(fileloc=filename, source=source, source_hash=digest, updated_at=now))
    elif row.source_hash != digest:
        row.source, row.source_hash, row.updated_at = source, digest, now


def forget_files(session: Session, present: Iterable[str]) -> list[str]:
    """Deactivate DAGs and drop import errors of files that no longer exist; return those DAG ids."""
    keep = set(present)
    gone_dags = [
        row
        for row in session.scalars(select(DagRow).where(DagRow.is_active.is_(True)))
        if row.fileloc not in keep
    ]
    for row in gone_dags:
        row.is_active = False
    stale = [f for f in session.scalars(select(ImportErrorRow.filename)) if f not in keep]
    if stale:
        session.execute(delete(ImportErrorRow).where(ImportErrorRow.filename.in_(stale)))
    return [row.dag_id for row in gone_dags]


def stored_dags(session: Session, dag_ids: Iterable[str] | None = None) -> dict[str, StoredDag]:
    """The active DAGs' serialized versions, read back."""
    query = select(DagRow.serialized, DagRow.dag_version_id).where(DagRow.is_active.is_(True))
    if dag_ids is not None:
        query = query.where(DagRow.dag_id.in_(list(dag_ids)))
    found = {}
    for serialized, version_id in session.execute(query):
        if serialized:
            stored = dataclasses.replace(StoredDag.from_json(serialized), version_id=version_id)
            found[stored.dag_id] = stored
    return found


def set_paused(session: Session, dag_id: str, paused: bool) -> bool:
    """Pause or unpause; return False if there is no such DAG. Unpausing wakes the schedulers."""
    result = session.execute(update(DagRow).where(DagRow.dag_id == dag_id).values(is_paused=paused))
    found = bool(result.rowcount)  # type: ignore[attr-defined]
    if found and not paused:
        wake_after_commit(session)
    return found


def get_dag_row(session: Session, dag_id: str) -> DagRow | None:
    return session.get(DagRow, dag_id)


def active_dag_count(session: Session) -> int:
    """How many DAGs are defined in the DAGs folder now (as last parsed)."""
    query = select(func.count()).select_from(DagRow).where(DagRow.is_active.is_(True))
    return session.scalar(query) or 0


def has_parsed(session: Session) -> bool:
    """Whether the DAG processor has recorded anything yet: a DAG (active or not) or an import error."""
    return bool(
        session.scalar(select(exists().select_from(DagRow)))
        or session.scalar(select(exists().select_from(ImportErrorRow)))
    )


def dag_listing(session: Session) -> list[dict[str, Any]]:
    """Every active DAG as ``dags list`` shows it: id, paused flag, schedule, tags, task count, file."""
    rows = session.scalars(
        select(DagRow)
        .where(DagRow.is_active.is_(True))
        .order_by(DagRow.dag_id)
        .options(undefer(DagRow.serialized))
    )
    return [
        {
            "dag_id": row.dag_id,
            "is_paused": row.is_paused,
            "schedule": row.schedule,
            "tags": list(row.tags or []),
            "tasks": len((row.serialized or {}).get("spec", {}).get("tasks", [])),
            "fileloc": row.fileloc,
        }
        for row in rows
    ]


def dag_fileloc(session: Session, dag_id: str) -> str | None:
    """The file an active DAG was last parsed from."""
    query = select(DagRow.fileloc).where(DagRow.dag_id == dag_id, DagRow.is_active.is_(True))
    return session.scalar(query)
