"""What a running task may read about DAG runs, its own and other DAGs': one small interface.

:class:`~dagflow.sensors.ExternalTaskSensor` asks through ``ti`` (see
:class:`~dagflow.runtime.task_instance.RuntimeTaskInstance`) for the state of another DAG's run
or of some of its task instances at a logical date. Under the scheduler the answers come from the
metadata store (:class:`dagflow.store.run_reader.DbRunStates`). In ``dag.test()`` there is only
the run under test, so :class:`OwnRunStates`, shipped here, knows that run alone: every other DAG
looks unknown and every other logical date has no run.

Every call is read-only and answers for the moment it is made.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from dagflow.core.states import RunState

if TYPE_CHECKING:
    from dagflow.models.dag import DAG
    from dagflow.models.taskgroup import TaskGroup

#: The task instances of one run: task id -> the states of its task instances (one per map index).
TaskStates = dict[str, list[str]]


@dataclass(frozen=True)
class DagOutline:
    """A DAG's task ids, and the task ids inside each of its task groups (nested groups included)."""

    dag_id: str
    task_ids: frozenset[str]
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)


class RunStateReader(Protocol):
    """Reads the state of DAG runs and task instances; every backend implements these three calls."""

    def outline(self, dag_id: str) -> DagOutline | None:
        """The DAG's tasks and task groups, or None when the DAG is not known."""

    def dag_run_state(self, dag_id: str, logical_date: datetime) -> str | None:
        """The state of the DAG's run at ``logical_date``, or None when there is no such run."""

    def task_states(
        self, dag_id: str, logical_date: datetime, task_ids: Collection[str] | None = None
    ) -> TaskStates | None:
        """The states of those tasks' instances (all tasks when None) in the DAG's run at
        ``logical_date``; None when there is no such run. A task the run lacks is left out."""


def outline_from_tree(dag_id: str, task_ids: Iterable[str], tree: Mapping[str, Any]) -> DagOutline:
    """The outline of a DAG from its serialized task group tree (``{"group_id", "children"}``)."""
    groups: dict[str, frozenset[str]] = {}

    def walk(node: Mapping[str, Any]) -> frozenset[str]:
        inside: set[str] = set()
        for child in node.get("children", ()):
            inside |= walk(child) if "children" in child else {child["task_id"]}
        if node.get("group_id"):
            groups[node["group_id"]] = frozenset(inside)
        return frozenset(inside)

    walk(tree)
    return DagOutline(dag_id, frozenset(task_ids), groups)


def outline_of(dag: DAG) -> DagOutline:
    """The outline of a DAG object."""
    groups: dict[str, frozenset[str]] = {}

    def walk(group: TaskGroup) -> frozenset[str]:
        from dagflow.models.taskgroup import TaskGroup

        inside: set[str] = set()
        for child in group.children.values():
            inside |= walk(child) if isinstance(child, TaskGroup) else {child.task_id}
        if group.group_id:
            groups[group.group_id] = frozenset(inside)
        return frozenset(inside)

    walk(dag.task_group)
    return DagOutline(dag.dag_id, frozenset(dag.task_dict), groups)


class OwnRunStates:
    """The reader of ``dag.test()``: it knows the run under test and nothing else.

    ``instances`` gives the run's task instances as they are now, ``(task_id, map_index, state)``.
    The run itself is ``running`` for as long as one of its tasks can ask.
    """

    def __init__(
        self,
        dag: DAG,
        logical_date: datetime | None,
        instances: Callable[[], Iterable[tuple[str, int, str]]],
    ):
        self.dag = dag
        self.logical_date = logical_date
        self.instances = instances

    def _is_own(self, dag_id: str, logical_date: datetime) -> bool:
        return dag_id == self.dag.dag_id and logical_date == self.logical_date

    def outline(self, dag_id: str) -> DagOutline | None:
        return outline_of(self.dag) if dag_id == self.dag.dag_id else None

    def dag_run_state(self, dag_id: str, logical_date: datetime) -> str | None:
        return RunState.RUNNING.value if self._is_own(dag_id, logical_date) else None

    def task_states(
        self, dag_id: str, logical_date: datetime, task_ids: Collection[str] | None = None
    ) -> TaskStates | None:
        if not self._is_own(dag_id, logical_date):
            return None
        wanted = None if task_ids is None else set(task_ids)
        found: TaskStates = {}
        for task_id, _map_index, state in self.instances():
            if wanted is None or task_id in wanted:
                found.setdefault(task_id, []).append(str(state))
        return found
