"""Change marks: one cheap read that changes whenever what a page shows of the store changes.

A live page is asked for again every few seconds; answering "unchanged" must not cost a render.
Each function here reads, in one statement through indexes, a tuple of values that every write the
page could show moves: the run's row (``dag_run.updated_at`` is set on every write of a run), the
count and newest ``updated_at`` of task instances (every state change of a task instance sets it;
heartbeats do not, and pages do not show them), the DAG row's parse time and pause flag. Equal
marks mean an equal page, up to the time the page was rendered, which callers add themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, ScalarSelect, bindparam, func, select
from sqlalchemy.orm import Session

from dagflow.core.keys import RunKey
from dagflow.store.models import DagRow, DagRunRow, ImportErrorRow, TaskInstanceRow

Mark = tuple[Any, ...]

TI, DR = TaskInstanceRow, DagRunRow
# Built once: building these statements costs more than running them.
_DAG_ID: BindParameter[str] = bindparam("m_dag_id")
_RUN_ID: BindParameter[str] = bindparam("m_run_id")


def _dag_columns() -> list[ScalarSelect[Any]]:
    of_dag = DagRow.dag_id == _DAG_ID
    return [
        select(DagRow.last_parsed_at).where(of_dag).scalar_subquery(),
        select(DagRow.is_paused).where(of_dag).scalar_subquery(),
        select(DagRow.next_dagrun_create_after).where(of_dag).scalar_subquery(),
    ]


_OF_RUN = (TI.dag_id == _DAG_ID, TI.run_id == _RUN_ID)
_RUN_MARK = select(
    DR.id,
    DR.state,
    DR.updated_at,
    select(func.count()).select_from(TI).where(*_OF_RUN).scalar_subquery(),
    select(func.max(TI.updated_at)).where(*_OF_RUN).scalar_subquery(),
    *_dag_columns(),
).where(DR.dag_id == _DAG_ID, DR.run_id == _RUN_ID)

_DAG_MARK = select(
    select(func.count()).select_from(DR).where(DR.dag_id == _DAG_ID).scalar_subquery(),
    select(func.max(DR.id)).where(DR.dag_id == _DAG_ID).scalar_subquery(),
    select(func.max(DR.updated_at)).where(DR.dag_id == _DAG_ID).scalar_subquery(),
    select(func.max(TI.updated_at)).where(TI.dag_id == _DAG_ID).scalar_subquery(),
    *_dag_columns(),
)

_STORE_MARK = select(
    select(func.count()).select_from(DagRow).scalar_subquery(),
    select(func.count()).select_from(DagRow).where(DagRow.is_paused).scalar_subquery(),
    select(func.count()).select_from(DagRow).where(DagRow.is_active).scalar_subquery(),
    select(func.max(DagRow.last_parsed_at)).scalar_subquery(),
    select(func.count()).select_from(DR).scalar_subquery(),
    select(func.max(DR.updated_at)).scalar_subquery(),
    select(func.max(TI.updated_at)).scalar_subquery(),
    select(func.count()).select_from(ImportErrorRow).scalar_subquery(),
)


def run_mark(session: Session, *, run: RunKey) -> Mark | None:
    """The mark of one run and its task instances (and of its DAG's row); None if there is no such run."""
    row = session.execute(_RUN_MARK, {"m_dag_id": run.dag_id, "m_run_id": run.run_id}).first()
    return None if row is None else tuple(row)


def dag_mark(session: Session, *, dag_id: str) -> Mark:
    """The mark of a DAG's row, all its runs and all their task instances."""
    return tuple(session.execute(_DAG_MARK, {"m_dag_id": dag_id}).one())


def store_mark(session: Session) -> Mark:
    """The mark of everything the DAGs list shows: DAG rows, runs, task instances, import errors."""
    return tuple(session.execute(_STORE_MARK).one())
