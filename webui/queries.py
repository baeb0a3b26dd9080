"""What the pages and the API read from the store: bounded queries returning plain data.

Each query touches only the rows it shows (a page of DAGs, their latest runs, one run's task
instances), so a page costs the same however much unrelated history the store holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from dagflow.store.models import DagRow, DagRunRow, ImportErrorRow, PoolRow, TaskInstanceRow

TI = TaskInstanceRow


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int

    def to_json(self, key: str) -> dict[str, Any]:
        return {key: self.items, "total_entries": self.total, "offset": self.offset, "limit": self.limit}


def dag_summary(row: DagRow) -> dict[str, Any]:
    return {
        "dag_id": row.dag_id,
        "is_paused": row.is_paused,
        "is_active": row.is_active,
        "description": row.description,
        "schedule": row.schedule,
        "timezone": row.timezone,
        "tags": list(row.tags or []),
        "owners": row.owners,
        "fileloc": row.fileloc,
        "max_active_runs": row.max_active_runs,
        "max_active_tasks": row.max_active_tasks,
        "next_dagrun": iso(row.next_dagrun),
        "next_dagrun_create_after": iso(row.next_dagrun_create_after),
        "last_parsed_at": iso(row.last_parsed_at),
    }


def list_dags(
    session: Session,
    *,
    search: str = "",
    tags: list[str] | None = None,
    paused: bool | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """A page of active DAGs, by id, filtered by a search string, tags and paused state."""
    condition: ColumnElement[bool] = DagRow.is_active.is_(True)
    if search:
        condition = and_(condition, DagRow.dag_id.ilike(f"%{_escape_like(search)}%", escape="\\"))
    if paused is not None:
        condition = and_(condition, DagRow.is_paused.is_(paused))
    if tags:  # tags are a JSON list: match them here, on ids and tags only
        wanted = set(tags)
        ids = [
            i
            for i, t in session.execute(select(DagRow.dag_id, DagRow.tags).where(condition))
            if wanted & set(t or [])
        ]
        condition = and_(condition, DagRow.dag_id.in_(ids))
    total = int(session.scalar(select(func.count()).select_from(DagRow).where(condition)) or 0)
    rows = session.scalars(
        select(DagRow).where(condition).order_by(DagRow.dag_id).offset(offset).limit(limit)
    )
    return Page([dag_summary(r) for r in rows], total, offset, limit)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def all_tags(session: Session) -> list[str]:
    tags: set[str] = set()
    for row_tags in session.scalars(select(DagRow.tags).where(DagRow.is_active.is_(True))):
        tags.update(row_tags or [])
    return sorted(tags)


def recent_runs(session: Session, dag_ids: list[str], per_dag: int = 10) -> dict[str, list[dict[str, Any]]]:
    """The latest ``per_dag`` runs of each DAG, newest first (one query, using the run_after index)."""
    if not dag_ids:
        return {}
    ranked = (
        select(
            DagRunRow.dag_id,
            DagRunRow.run_id,
            DagRunRow.state,
            DagRunRow.run_after,
            DagRunRow.logical_date,
            func.row_number()
            .over(partition_by=DagRunRow.dag_id, order_by=DagRunRow.run_after.desc())
            .label("n"),
        )
        .where(DagRunRow.dag_id.in_(dag_ids))
        .subquery()
    )
    query = select(ranked).where(ranked.c.n <= per_dag).order_by(ranked.c.dag_id, ranked.c.n)
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for dag_id, run_id, state, run_after, logical_date, _n in session.execute(query):
        found[dag_id].append(
            {"run_id": run_id, "state": state, "run_after": iso(run_after), "logical_date": iso(logical_date)}
        )
    return found


def import_errors(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(ImportErrorRow).order_by(ImportErrorRow.filename))
    return [
        {
            "id": r.id,
            "filename": r.filename,
            "line": r.line,
            "message": r.message,
            "traceback": r.traceback,
            "timestamp": iso(r.timestamp),
        }
        for r in rows
    ]


def import_error_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ImportErrorRow)) or 0)


def pools(session: Session) -> list[dict[str, Any]]:
    used = dict(
        session.execute(
            select(TI.pool, func.sum(TI.pool_slots))
            .where(TI.state.in_(("queued", "running")))
            .group_by(TI.pool)
        ).all()
    )
    return [
        {
            "name": p.name,
            "slots": p.slots,
            "description": p.description,
            "occupied_slots": int(used.get(p.name) or 0),
        }
        for p in session.scalars(select(PoolRow).order_by(PoolRow.name))
    ]


def list_runs(
    session: Session,
    *,
    dag_id: str | None = None,
    states: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Runs, newest first, filtered by DAG, state and ``run_after`` between start and end."""
    conditions = []
    if dag_id:
        conditions.append(DagRunRow.dag_id == dag_id)
    if states:
        conditions.append(DagRunRow.state.in_(states))
    if start is not None:
        conditions.append(DagRunRow.run_after >= start)
    if end is not None:
        conditions.append(DagRunRow.run_after <= end)
    where = and_(true(), *conditions)
    total = int(session.scalar(select(func.count()).select_from(DagRunRow).where(where)) or 0)
    rows = session.scalars(
        select(DagRunRow)
        .where(where)
        .order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return Page([run_summary(r) for r in rows], total, offset, limit)


def run_summary(run: DagRunRow) -> dict[str, Any]:
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "state": run.state,
        "run_type": run.run_type,
        "logical_date": iso(run.logical_date),
        "data_interval_start": iso(run.data_interval_start),
        "data_interval_end": iso(run.data_interval_end),
        "run_after": iso(run.run_after),
        "queued_at": iso(run.queued_at),
        "start_date": iso(run.start_date),
        "end_date": iso(run.end_date),
        "conf": run.conf,
        "note": run.note,
        "triggered_by": run.triggered_by,
    }
