"""The identities of runs and task instances: frozen, hashable, shared by every layer.

The scheduler, the executors, the workers, the store and the web UI all name a run by its
:class:`RunKey` and a task instance by its :class:`TIKey`, never by a bare tuple.
"""

from __future__ import annotations

from typing import NamedTuple


class RunKey(NamedTuple):
    """One DAG run."""

    dag_id: str
    run_id: str

    def ti(self, task_id: str, map_index: int = -1) -> TIKey:
        """The key of one of this run's task instances."""
        return TIKey(self.dag_id, self.run_id, task_id, map_index)


class TIKey(NamedTuple):
    """One task instance: one task of one run, at one map index (-1 when the task is not mapped)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @property
    def run(self) -> RunKey:
        return RunKey(self.dag_id, self.run_id)

    def label(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} {self.run_id}"
