"""Reading single task instances and their tries, as the CLI shows them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dagflow.core.keys import RunKey, TIKey
from dagflow.store.models import TaskInstanceRow, TaskInstanceTryRow

TI = TaskInstanceRow
TRY = TaskInstanceTryRow


def get_task_instance(session: Session, *, key: TIKey) -> TaskInstanceRow | None:
    return session.get(TI, tuple(key))


def run_task_instances(session: Session, *, run: RunKey) -> list[TaskInstanceRow]:
    """The task instances of ``run``, by task id and map index."""
    query = (
        select(TI).where(TI.dag_id == run.dag_id, TI.run_id == run.run_id).order_by(TI.task_id, TI.map_index)
    )
    return list(session.scalars(query))


def try_log_path(session: Session, *, key: TIKey, try_number: int) -> str | None:
    """Where the worker wrote the log of that try, if the try was recorded with one."""
    return session.scalar(
        select(TRY.log_path).where(
            TRY.dag_id == key.dag_id,
            TRY.run_id == key.run_id,
            TRY.task_id == key.task_id,
            TRY.map_index == key.map_index,
            TRY.try_number == try_number,
        )
    )
