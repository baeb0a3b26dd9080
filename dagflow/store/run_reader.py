"""The metadata store's answers to :class:`dagflow.runtime.run_reader.RunStateReader`: read-only queries a
running task (an ExternalTaskSensor's poke) makes about other DAGs' runs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from dagflow.runtime.run_reader import DagOutline, TaskStates, outline_from_tree
from dagflow.store.engine import Database
from dagflow.store.models import DagRow, DagRunRow, TaskInstanceRow

TI = TaskInstanceRow


class DbRunStates:
    """Answers from the store; each call is one short read transaction of its own."""

    def __init__(self, db: Database):
        self.db = db

    def outline(self, dag_id: str) -> DagOutline | None:
        """The DAG as the DAG processor last parsed it; None if it is unknown or its file is gone."""
        with self.db.session() as session:
            serialized = session.scalar(
                select(DagRow.serialized).where(DagRow.dag_id == dag_id, DagRow.is_active.is_(True))
            )
        if not serialized:
            return None
        task_ids = [task["task_id"] for task in serialized["spec"]["tasks"]]
        return outline_from_tree(dag_id, task_ids, serialized.get("task_group") or {})

    def dag_run_state(self, dag_id: str, logical_date: datetime) -> str | None:
        with self.db.session() as session:
            return session.scalar(
                select(DagRunRow.state).where(
                    DagRunRow.dag_id == dag_id, DagRunRow.logical_date == logical_date
                )
            )

    def task_states(
        self, dag_id: str, logical_date: datetime, task_ids: Collection[str] | None = None
    ) -> TaskStates | None:
        with self.db.session() as session:
            run_id = session.scalar(
                select(DagRunRow.run_id).where(
                    DagRunRow.dag_id == dag_id, DagRunRow.logical_date == logical_date
                )
            )
            if run_id is None:
                return None
            query = select(TI.task_id, TI.state).where(TI.dag_id == dag_id, TI.run_id == run_id)
            if task_ids is not None:
                query = query.where(TI.task_id.in_(sorted(task_ids)))
            rows = list(session.execute(query.order_by(TI.task_id, TI.map_index)))
        found: TaskStates = {}
        for task_id, state in rows:
            found.setdefault(task_id, []).append(state)
        return found
