"""What the pages and the API read from the store: bounded queries returning plain data.

Each query touches only the rows it shows (a page of DAGs, their latest runs, one run's task
instances), so a page costs the same however much unrelated history the store holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, true
from sqlalchemy.orm import Session, aliased

from dagflow.store.models import (
    DagRow,
    DagRunRow,
    ImportErrorRow,
    PoolRow,
    TaskInstanceRow,
    UserRow,
    XComRow,
)
from dagflow.store.rows import iso, run_json, ti_json, try_json

TI = TaskInstanceRow
#: The API's names for the row dicts shared with the CLI.
run_summary, ti_summary, try_summary = run_json, ti_json, try_json


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
    """The latest ``per_dag`` runs of each DAG, newest first, in one query.

    Each DAG's runs are read from the (dag_id, run_after) index, newest first, stopping after
    ``per_dag``: the cost does not grow with a DAG's older runs (ranking all of them did).
    """
    if not dag_ids:
        return {}
    newest = _newest_lateral if session.get_bind().dialect.name == "postgresql" else _newest_by_cutoff
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for dag_id, run_id, state, run_after, logical_date in session.execute(newest(dag_ids, per_dag)):
        runs = found[dag_id]
        if len(runs) < per_dag:  # SQLite's cut-off also lets through runs tied with the last one
            when = {"run_after": iso(run_after), "logical_date": iso(logical_date)}
            runs.append({"run_id": run_id, "state": state, **when})
    return found


def _newest_lateral(dag_ids: list[str], per_dag: int) -> Select[*tuple[Any, ...]]:
    """PostgreSQL: for each DAG, a LATERAL subquery reading its newest runs from the index."""
    run = aliased(DagRunRow)
    newest = (
        select(run.dag_id, run.run_id, run.state, run.run_after, run.logical_date)
        .where(run.dag_id == DagRow.dag_id)
        .order_by(run.run_after.desc())
        .limit(per_dag)
        .lateral()
    )
    return (
        select(newest)
        .select_from(DagRow)
        .join(newest, true())
        .where(DagRow.dag_id.in_(dag_ids))
        .order_by(newest.c.dag_id, newest.c.run_after.desc())
    )


def _newest_by_cutoff(dag_ids: list[str], per_dag: int) -> Select[*tuple[Any, ...]]:
    """SQLite (no LATERAL): each DAG's runs from the ``per_dag``-th newest ``run_after`` on.

    The cut-off is a correlated subquery reading ``per_dag`` index entries; the runs after it are
    one index range per DAG.
    """
    run = aliased(DagRunRow)
    newest = (
        select(run.run_after)
        .where(run.dag_id == DagRow.dag_id)
        .correlate(DagRow)
        .order_by(run.run_after.desc())
        .limit(per_dag)
        .subquery()
    )
    cutoffs = (
        select(DagRow.dag_id, select(func.min(newest.c.run_after)).scalar_subquery().label("cutoff"))
        .where(DagRow.dag_id.in_(dag_ids))
        .subquery()
    )
    runs = DagRunRow
    return (
        select(runs.dag_id, runs.run_id, runs.state, runs.run_after, runs.logical_date)
        .join(cutoffs, and_(runs.dag_id == cutoffs.c.dag_id, runs.run_after >= cutoffs.c.cutoff))
        .order_by(runs.dag_id, runs.run_after.desc())
    )


def paged(session: Session, query: Select[Any], offset: int, limit: int, summary: Any) -> Page:
    """One page of ``query``'s rows (as ``summary(row)``) and the count of all of them."""
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    rows = session.scalars(query.offset(offset).limit(limit))
    return Page([summary(r) for r in rows], total, offset, limit)


def import_error_summary(row: ImportErrorRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "line": row.line,
        "message": row.message,
        "traceback": row.traceback,
        "timestamp": iso(row.timestamp),
    }


def import_errors(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(ImportErrorRow).order_by(ImportErrorRow.filename))
    return [import_error_summary(r) for r in rows]


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


@dataclass(frozen=True)
class RunFilter:
    """Which runs a list shows: a DAG (None: all), states, and ranges of start and logical dates."""

    dag_id: str | None = None
    states: list[str] | None = None
    start_date_gte: datetime | None = None
    start_date_lte: datetime | None = None
    logical_date_gte: datetime | None = None
    logical_date_lte: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.dag_id:
            found.append(DagRunRow.dag_id == self.dag_id)
        if self.states:
            found.append(DagRunRow.state.in_(self.states))
        for column, low, high in (
            (DagRunRow.start_date, self.start_date_gte, self.start_date_lte),
            (DagRunRow.logical_date, self.logical_date_gte, self.logical_date_lte),
        ):
            if low is not None:
                found.append(column >= low)
            if high is not None:
                found.append(column <= high)
        return found


def list_runs(
    session: Session,
    *,
    dag_id: str | None = None,
    states: list[str] | None = None,
    where: RunFilter | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Runs, newest first, filtered by DAG and state (or by a whole :class:`RunFilter`)."""
    where = where or RunFilter(dag_id=dag_id, states=states)
    condition = and_(true(), *where.conditions())
    total = int(session.scalar(select(func.count()).select_from(DagRunRow).where(condition)) or 0)
    rows = session.scalars(
        select(DagRunRow)
        .where(condition)
        .order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return Page([run_summary(r) for r in rows], total, offset, limit)


def xcom_summary(row: XComRow) -> dict[str, Any]:
    """An XCom with its value as the JSON text the task pushed."""
    return {
        "task_id": row.task_id,
        "map_index": row.map_index,
        "key": row.key,
        "value": row.value,
        "timestamp": iso(row.timestamp),
    }


def user_summary(row: UserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "role": row.role,
        "email": row.email,
        "active": row.active,
        "created_at": iso(row.created_at),
        "last_login": iso(row.last_login),
    }
