"""What the web UI's pages and its JSON API read: one function per question, bounded queries.

Each query touches only the rows it shows (a page of DAGs, their latest runs, one run's task
instances), so a page costs the same however much unrelated history the store holds. The caller
owns the session (one read session per web request, see :func:`request_session`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, true
from sqlalchemy.orm import Session, aliased

from dagflow.core.keys import RunKey, TIKey
from dagflow.core.states import FINISHED, TaskState
from dagflow.store.engine import Database
from dagflow.store.models import (
    DagCodeRow,
    DagRow,
    DagRunRow,
    ImportErrorRow,
    JobRow,
    PoolRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    UserRow,
    XComRow,
    map_index_label,
)
from dagflow.store.rows import (
    dag_json,
    import_error_json,
    iso,
    run_json,
    ti_json,
    try_json,
    user_json,
    xcom_json,
)

TI = TaskInstanceRow
TRY = TaskInstanceTryRow
BUSY_STATES = (TaskState.QUEUED.value, TaskState.RUNNING.value)


def request_session(db: Database) -> Session:
    """A read session the caller closes itself: a web request reads through it, then closes it.

    Closing it (without a rollback first) ends its transaction and leaves the rows read through it
    readable.
    """
    return db._read()


@dataclass
class Page:
    """One page of a list (its items as JSON-ready dicts) and the count of the whole list."""

    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int

    def to_json(self, key: str) -> dict[str, Any]:
        return {key: self.items, "total_entries": self.total, "offset": self.offset, "limit": self.limit}


def _page(
    session: Session, query: Select[Any], offset: int, limit: int, summary: Callable[[Any], dict[str, Any]]
) -> Page:
    """One page of ``query``'s rows (as ``summary(row)``) and the count of all of them."""
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    rows = session.scalars(query.offset(offset).limit(limit))
    return Page([summary(r) for r in rows], total, offset, limit)


# DAGs


def dags_page(
    session: Session,
    *,
    search: str = "",
    tags: Sequence[str] | None = None,
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
    return _page(session, select(DagRow).where(condition).order_by(DagRow.dag_id), offset, limit, dag_json)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def active_dag_tags(session: Session) -> list[str]:
    """Every tag of an active DAG, sorted."""
    tags: set[str] = set()
    for row_tags in session.scalars(select(DagRow.tags).where(DagRow.is_active.is_(True))):
        tags.update(row_tags or [])
    return sorted(tags)


def dag_source(session: Session, *, fileloc: str) -> DagCodeRow | None:
    """The DAG file's source as the DAG processor last recorded it."""
    return session.get(DagCodeRow, fileloc)


def import_errors(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(ImportErrorRow).order_by(ImportErrorRow.filename))
    return [import_error_json(r) for r in rows]


def import_errors_page(session: Session, *, offset: int, limit: int) -> Page:
    query = select(ImportErrorRow).order_by(ImportErrorRow.filename)
    return _page(session, query, offset, limit, import_error_json)


def import_error_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ImportErrorRow)) or 0)


# Runs


def recent_runs_by_dag(
    session: Session, *, dag_ids: Sequence[str], per_dag: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """The latest ``per_dag`` runs of each DAG, newest first, in one query.

    Each DAG's runs are read from the (dag_id, run_after) index, newest first, stopping after
    ``per_dag``: the cost does not grow with a DAG's older runs (ranking all of them did).
    """
    if not dag_ids:
        return {}
    newest = _newest_lateral if session.get_bind().dialect.name == "postgresql" else _newest_by_cutoff
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for dag_id, run_id, state, run_after, logical_date in session.execute(newest(list(dag_ids), per_dag)):
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


@dataclass(frozen=True)
class RunFilter:
    """Which runs a list shows: a DAG (None: all), states, and ranges of start and logical dates."""

    dag_id: str | None = None
    states: Sequence[str] | None = None
    start_date_gte: datetime | None = None
    start_date_lte: datetime | None = None
    logical_date_gte: datetime | None = None
    logical_date_lte: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.dag_id:
            found.append(DagRunRow.dag_id == self.dag_id)
        if self.states:
            found.append(DagRunRow.state.in_(list(self.states)))
        for column, low, high in (
            (DagRunRow.start_date, self.start_date_gte, self.start_date_lte),
            (DagRunRow.logical_date, self.logical_date_gte, self.logical_date_lte),
        ):
            if low is not None:
                found.append(column >= low)
            if high is not None:
                found.append(column <= high)
        return found


def runs_page(session: Session, *, where: RunFilter, offset: int = 0, limit: int = 50) -> Page:
    """Runs, newest first, filtered by ``where``."""
    query = (
        select(DagRunRow)
        .where(and_(true(), *where.conditions()))
        .order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())
    )
    return _page(session, query, offset, limit, run_json)


def newest_runs(session: Session, *, dag_id: str, limit: int) -> list[DagRunRow]:
    """The DAG's ``limit`` latest runs (by ``run_after``), newest first."""
    query = (
        select(DagRunRow)
        .where(DagRunRow.dag_id == dag_id)
        .order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def newest_run_ids(session: Session, *, dag_id: str, limit: int) -> list[str]:
    """The ids of the DAG's ``limit`` latest runs, newest first."""
    query = (
        select(DagRunRow.run_id)
        .where(DagRunRow.dag_id == dag_id)
        .order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


# Task instances


def task_states_of_runs(
    session: Session, *, dag_id: str, run_ids: Sequence[str]
) -> list[tuple[str, str, str]]:
    """``(task_id, run_id, state)`` of every task instance of these runs of the DAG (grid, graph)."""
    query = select(TI.task_id, TI.run_id, TI.state).where(TI.dag_id == dag_id, TI.run_id.in_(list(run_ids)))
    return [(task_id, run_id, state) for task_id, run_id, state in session.execute(query)]


def get_task_instance(session: Session, *, key: TIKey) -> TaskInstanceRow | None:
    return session.get(TI, tuple(key))


def _of_run(run: RunKey) -> Select[TaskInstanceRow]:
    return select(TI).where(TI.dag_id == run.dag_id, TI.run_id == run.run_id)


def run_task_instances(session: Session, *, run: RunKey) -> list[TaskInstanceRow]:
    """The run's task instances, by task id and map index."""
    return list(session.scalars(_of_run(run).order_by(TI.task_id, TI.map_index)))


def task_instances_page(
    session: Session, *, run: RunKey, states: Sequence[str] | None, offset: int, limit: int
) -> Page:
    """A page of the run's task instances (in ``states``, if given), by task id and map index."""
    query = _of_run(run)
    if states:
        query = query.where(TI.state.in_(list(states)))
    return _page(session, query.order_by(TI.task_id, TI.map_index), offset, limit, ti_json)


def task_instance_count(session: Session, *, run: RunKey) -> int:
    query = select(func.count()).select_from(TI).where(TI.dag_id == run.dag_id, TI.run_id == run.run_id)
    return int(session.scalar(query) or 0)


def unfinished_task_instances(session: Session, *, run: RunKey) -> list[TIKey]:
    """The run's task instances that have not finished, by task id and map index."""
    finished = [s.value for s in FINISHED]
    query = (
        select(TI.task_id, TI.map_index)
        .where(TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.state.not_in(finished))
        .order_by(TI.task_id, TI.map_index)
    )
    return [run.ti(task_id, map_index) for task_id, map_index in session.execute(query)]


def map_index_states(session: Session, *, run: RunKey, task_id: str) -> list[tuple[int, str, str]]:
    """``(map_index, state, label)`` of each task instance of one (mapped) task in the run; the label
    is its rendered ``map_index_template``, else its index."""
    query = (
        select(TI.map_index, TI.state, TI.rendered_map_index)
        .where(TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.task_id == task_id)
        .order_by(TI.map_index)
    )
    return [(index, state, map_index_label(index, label)) for index, state, label in session.execute(query)]


def _of_ti(row: type[TaskInstanceTryRow] | type[XComRow], key: TIKey) -> tuple[Any, ...]:
    """The conditions that pick one task instance's rows of a table keyed like task instances."""
    return (
        row.dag_id == key.dag_id,
        row.run_id == key.run_id,
        row.task_id == key.task_id,
        row.map_index == key.map_index,
    )


def _tries_of(key: TIKey) -> Select[TaskInstanceTryRow]:
    return select(TRY).where(*_of_ti(TRY, key)).order_by(TRY.try_number)


def tries(session: Session, *, key: TIKey) -> list[TaskInstanceTryRow]:
    """The task instance's tries, first first."""
    return list(session.scalars(_tries_of(key)))


def tries_page(session: Session, *, key: TIKey, offset: int, limit: int) -> Page:
    return _page(session, _tries_of(key), offset, limit, try_json)


def try_log_path(session: Session, *, key: TIKey, try_number: int) -> str | None:
    """Where the worker wrote the try's log, if it recorded it."""
    query = select(TRY.log_path).where(*_of_ti(TRY, key), TRY.try_number == try_number)
    return session.scalar(query)


def try_log_url(session: Session, *, key: TIKey, try_number: int) -> str | None:
    """The log server of the worker that ran the try, or runs it now, if it ran on another machine."""
    query = select(TRY.log_url).where(*_of_ti(TRY, key), TRY.try_number == try_number)
    found = session.scalar(query)
    if found is None:
        running = select(TI.log_url).where(
            TI.dag_id == key.dag_id,
            TI.run_id == key.run_id,
            TI.task_id == key.task_id,
            TI.map_index == key.map_index,
            TI.try_number == try_number,
        )
        found = session.scalar(running)
    return found


# XComs


def _xcoms_of(key: TIKey) -> Select[XComRow]:
    return select(XComRow).where(*_of_ti(XComRow, key)).order_by(XComRow.key)


def xcom_values(session: Session, *, key: TIKey) -> list[tuple[str, str]]:
    """``(key, value as JSON text)`` of each XCom the task instance pushed, by key."""
    query = _xcoms_of(key).with_only_columns(XComRow.key, XComRow.value)
    return [(xcom_key, value) for xcom_key, value in session.execute(query)]


def xcoms_page(session: Session, *, key: TIKey, offset: int, limit: int) -> Page:
    return _page(session, _xcoms_of(key), offset, limit, xcom_json)


def get_xcom(session: Session, *, key: TIKey, xcom_key: str) -> XComRow | None:
    return session.get(XComRow, (*key, xcom_key))


# Pools and slots


def pools_with_occupancy(session: Session) -> list[dict[str, Any]]:
    """Every pool, by name, with the slots its queued and running task instances take."""
    used = dict(
        session.execute(
            select(TI.pool, func.sum(TI.pool_slots)).where(TI.state.in_(BUSY_STATES)).group_by(TI.pool)
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


def pool_exists(session: Session, *, name: str) -> bool:
    return session.get(PoolRow, name) is not None


# Schedulers and users


def latest_scheduler_job(session: Session) -> JobRow | None:
    """The scheduler job that heartbeat last (running or not)."""
    query = (
        select(JobRow).where(JobRow.job_type == "scheduler").order_by(JobRow.latest_heartbeat.desc()).limit(1)
    )
    return session.scalars(query).first()


def get_user(session: Session, *, user_id: int) -> UserRow | None:
    return session.get(UserRow, user_id)


def users_by_name(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def users_page(session: Session, *, offset: int, limit: int) -> Page:
    return _page(session, select(UserRow).order_by(UserRow.username), offset, limit, user_json)
