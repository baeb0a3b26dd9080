"""XComs in the metadata store, as a running task sees them.

Reads go to the database; the running task's own pushes are kept aside and written together with
the try's outcome (:func:`dagflow.store.task_instances.record_outcome`), so a failed or killed try
never leaves half of its XComs behind.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dagflow.core.keys import TIKey
from dagflow.runtime.xcom import RunRef, decode, encode
from dagflow.store.engine import Database
from dagflow.store.models import XComRow


class DbXComStore:
    """The :class:`~dagflow.runtime.xcom.XComStore` of a worker running the task instance ``own``."""

    def __init__(self, db: Database, own: TIKey):
        self.db = db
        self.own = own
        self._pending: dict[str, str] = {}
        self._cleared = False

    def _is_own(self, run: RunRef, task_id: str, map_index: int) -> bool:
        own = self.own
        return (run.dag_id, run.run_id, task_id, map_index) == (
            own.dag_id,
            own.run_id,
            own.task_id,
            own.map_index,
        )

    def push(self, run: RunRef, task_id: str, map_index: int, key: str, value: Any) -> None:
        if not self._is_own(run, task_id, map_index):
            raise PermissionError(f"task {self.own.task_id!r} can only push its own XComs")
        self._pending[key] = encode(value, where=f"task {task_id!r}")

    def _rows(
        self, run: RunRef, task_id: str, key: str, map_index: int | None = None
    ) -> list[tuple[int, str]]:
        query = select(XComRow.map_index, XComRow.value).where(
            XComRow.dag_id == run.dag_id,
            XComRow.run_id == run.run_id,
            XComRow.task_id == task_id,
            XComRow.key == key,
        )
        if map_index is not None:
            query = query.where(XComRow.map_index == map_index)
        with self.db.transaction() as conn:
            return [(i, v) for i, v in conn.execute(query.order_by(XComRow.map_index))]

    def get(self, run: RunRef, task_id: str, map_index: int, key: str) -> tuple[bool, Any]:
        if self._is_own(run, task_id, map_index) and (self._cleared or key in self._pending):
            text = self._pending.get(key)
            return (False, None) if text is None else (True, decode(text))
        rows = self._rows(run, task_id, key, map_index)
        return (True, decode(rows[0][1])) if rows else (False, None)

    def _overlay(self, run: RunRef, task_id: str, key: str) -> dict[int, str]:
        found = dict(self._rows(run, task_id, key))
        if run.dag_id == self.own.dag_id and run.run_id == self.own.run_id and task_id == self.own.task_id:
            if self._cleared:
                found.pop(self.own.map_index, None)
            if key in self._pending:
                found[self.own.map_index] = self._pending[key]
        return found

    def get_all(self, run: RunRef, task_id: str, key: str) -> list[Any]:
        found = self._overlay(run, task_id, key)
        return [decode(found[i]) for i in sorted(found)]

    def mapped_values(self, run: RunRef, task_id: str, key: str) -> list[Any]:
        found = self._overlay(run, task_id, key)
        return [decode(found[i]) for i in sorted(found) if i >= 0]

    def clear(self, run: RunRef, task_id: str, map_index: int) -> None:
        if self._is_own(run, task_id, map_index):
            self._pending.clear()
            self._cleared = True

    def pending(self) -> list[tuple[str, str]]:
        """The pushes of this try, as ``(key, JSON text)``, to record with its outcome."""
        return sorted(self._pending.items())
