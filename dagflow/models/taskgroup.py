"""Task groups: a named, nestable set of tasks whose ids share a ``group.`` prefix."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError, DuplicateTaskIdError
from dagflow.models import context_stack
from dagflow.models.compensation import Compensation, as_compensation
from dagflow.models.node import DependencyMixin, TaskNode

if TYPE_CHECKING:
    from types import TracebackType

    from dagflow.models.dag import DAG

_GROUP_ID = re.compile(r"^[\w-]+$")


class TaskGroup(DependencyMixin):
    """A group of tasks, shown together in the UI; ``group >> x`` links the group's leaves to ``x``."""

    def __init__(
        self,
        group_id: str | None,
        *,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
        compensate: Any = None,
    ):
        self.dag: DAG | None = dag or (parent_group.dag if parent_group else context_stack.current_dag())
        self.default_args = dict(default_args or {})
        self.tooltip, self.ui_color, self.ui_fgcolor = tooltip, ui_color, ui_fgcolor
        self.prefix_group_id = prefix_group_id
        self.children: dict[str, TaskNode | TaskGroup] = {}
        self.parent_group: TaskGroup | None = None
        self._group_id = group_id
        self.compensation: Compensation | None = None
        if group_id is None:  # the root group of a DAG
            return
        if self.dag is None:
            raise DagDefinitionError(f"task group {group_id!r} belongs to no DAG: create it inside a DAG")
        if not isinstance(group_id, str) or not _GROUP_ID.match(group_id):
            raise DagDefinitionError(
                f"DAG {self.dag.dag_id!r}: task group id {group_id!r} may only contain letters, digits, "
                "'_' and '-'"
            )
        parent = parent_group or context_stack.current_group(self.dag) or self.dag.task_group
        if add_suffix_on_collision:
            self._group_id = parent.unique_child_label(group_id)
        parent.add(self)
        self.compensation = as_compensation(
            compensate, where=f"DAG {self.dag.dag_id!r}, task group {self.group_id!r}"
        )

    def __repr__(self) -> str:
        return f"<TaskGroup {self.group_id!r}>"

    @property
    def group_id(self) -> str | None:
        """The full id: the parent groups' ids and this one, joined by dots (None for the root)."""
        if self._group_id is None:
            return None
        if self.parent_group is not None and self.parent_group.prefix_group_id:
            parent_id = self.parent_group.group_id
            if parent_id:
                return f"{parent_id}.{self._group_id}"
        return self._group_id

    @property
    def label(self) -> str | None:
        return self._group_id

    @property
    def prefix(self) -> str:
        """What this group puts in front of the ids of tasks created inside it.

        With ``prefix_group_id=False`` that is nothing, even inside a prefixed group: Airflow's
        ``child_id`` returns the label unchanged, so ported DAGs keep their task ids.
        """
        if self.prefix_group_id and self.group_id:
            return f"{self.group_id}."
        return ""

    #: True for a group expanded with ``@task_group(...).expand(...)`` (a MappedTaskGroup).
    is_expanded = False

    @property
    def mapped_ancestor(self) -> TaskGroup | None:
        """The innermost expanded group this group is, or is inside of, if any."""
        group: TaskGroup | None = self
        while group is not None:
            if group.is_expanded:
                return group
            group = group.parent_group
        return None

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    def merged_default_args(self) -> dict[str, Any]:
        """This group's ``default_args`` over its parents'."""
        merged = self.parent_group.merged_default_args() if self.parent_group is not None else {}
        merged.update(self.default_args)
        return merged

    def child_id(self, label: str) -> str:
        return f"{self.prefix}{label}"

    def unique_child_label(self, label: str) -> str:
        """``label``, or ``label__N`` if a group of the DAG already has that id (N: highest used + 1)."""
        taken = set(self.dag.task_group_dict) if self.dag is not None else set()
        if self.child_id(label) not in taken:
            return label
        base = re.split(r"__\d+$", label)[0]
        pattern = re.compile(rf"^{re.escape(self.child_id(base))}__(\d+)$")
        suffixes = [int(m.group(1)) for group_id in taken if (m := pattern.match(group_id))]
        return f"{base}__{max(suffixes, default=0) + 1}"

    def add(self, child: TaskNode | TaskGroup) -> None:
        key = child.group_id if isinstance(child, TaskGroup) else child.task_id
        assert key is not None
        if key in self.children:
            kind = "task group" if isinstance(child, TaskGroup) else "task"
            dag_id = self.dag.dag_id if self.dag else "?"
            raise DuplicateTaskIdError(f"DAG {dag_id!r}: {kind} id {key!r} is used twice")
        if isinstance(child, TaskGroup):
            child.parent_group = self
            key = child.group_id
            assert key is not None
            if self.dag is not None and key in self.dag.task_group_dict:
                raise DuplicateTaskIdError(f"DAG {self.dag.dag_id!r}: task group id {key!r} is used twice")
            if self.dag is not None:
                self.dag.task_group_dict[key] = child
        elif self.mapped_ancestor is not None:  # its task instances are the expanded group's indexes
            child.is_mapped = True
        self.children[key] = child

    # -- membership --------------------------------------------------------------------------

    def iter_tasks(self) -> list[TaskNode]:
        """Every task in this group and its subgroups, in definition order."""
        found: list[TaskNode] = []
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                found.extend(child.iter_tasks())
            else:
                found.append(child)
        return found

    def _member_ids(self) -> set[str]:
        return {t.task_id for t in self.iter_tasks()}

    @property
    def roots(self) -> list[TaskNode]:
        """Tasks of the group with no upstream inside the group."""
        members = self._member_ids()
        return [t for t in self.iter_tasks() if not (t.upstream_task_ids & members)]

    @property
    def leaves(self) -> list[TaskNode]:
        """Tasks of the group with no downstream inside the group; a teardown hands over to its work."""
        members = self._member_ids()
        tasks = self.iter_tasks()
        by_id = {t.task_id: t for t in tasks}
        leaves: list[TaskNode] = []
        for task in tasks:
            if task.downstream_task_ids & members:
                continue
            if task.is_teardown:
                leaves.extend(
                    by_id[u] for u in sorted(task.upstream_task_ids & members) if not by_id[u].is_setup
                )
            else:
                leaves.append(task)
        unique: dict[str, TaskNode] = {t.task_id: t for t in leaves}
        return list(unique.values())

    # -- the with-statement ------------------------------------------------------------------

    def __enter__(self) -> TaskGroup:
        context_stack.push_group(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        context_stack.pop_group()
