"""Edges between tasks: ``a >> b``, ``a << b``, lists on either side, task groups and XCom references."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from dagflow.models.dag import DAG
    from dagflow.models.taskgroup import TaskGroup


class DependencyMixin:
    """Something that can stand on either side of ``>>``: a task, a task group, an XCom reference.

    ``roots`` are the tasks an incoming edge attaches to; ``leaves`` are the tasks an outgoing edge
    leaves from. For a single task both are the task itself.
    """

    @property
    def roots(self) -> list[TaskNode]:
        raise NotImplementedError

    @property
    def leaves(self) -> list[TaskNode]:
        raise NotImplementedError

    #: True for an edge label (dagflow.models.edges), which stands between the two sides of ``>>``.
    is_edge_modifier = False

    def set_upstream(self, other: Any, edge_modifier: Any = None) -> None:
        """Make ``other`` upstream of this; with ``edge_modifier`` (a ``Label``) the edges carry it."""
        for item in flatten_relatives(other):
            if item.is_edge_modifier:  # self << Label("x"): the label's upstream side comes to us
                item.set_downstream(self)
                continue
            for leaf in item.leaves:
                for root in self.roots:
                    _link(leaf, root, edge_modifier)

    def set_downstream(self, other: Any, edge_modifier: Any = None) -> None:
        """Make ``other`` downstream of this; with ``edge_modifier`` (a ``Label``) the edges carry it."""
        for item in flatten_relatives(other):
            if item.is_edge_modifier:  # self >> Label("x"): we are the label's upstream side
                item.set_upstream(self)
                continue
            for root in item.roots:
                for leaf in self.leaves:
                    _link(leaf, root, edge_modifier)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        """``[a, b] >> self``."""
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        """``[a, b] << self``."""
        self.set_downstream(other)
        return self


def flatten_relatives(other: Any) -> Iterator[DependencyMixin]:
    """The items of ``other``: one relative or a (nested) list, tuple or set of them."""
    if isinstance(other, DependencyMixin):
        yield other
    elif isinstance(other, (list, tuple, set, frozenset)):
        for item in other:
            yield from flatten_relatives(item)
    else:
        raise DagDefinitionError(
            f"cannot set a dependency on {other!r} ({type(other).__name__}): use a task, a task group, "
            "a task's output, or a list of those"
        )


def _link(upstream: TaskNode, downstream: TaskNode, edge_modifier: Any) -> None:
    if edge_modifier is None:
        link(upstream, downstream)
    else:
        edge_modifier.link(upstream, downstream)


def link(upstream: TaskNode, downstream: TaskNode) -> None:
    """Make ``downstream`` depend on ``upstream``, both tasks of the same DAG."""
    if upstream is downstream:
        raise DagDefinitionError(f"task {upstream.task_id!r} cannot depend on itself")
    dag = upstream.dag or downstream.dag
    if dag is None:
        raise DagDefinitionError(
            f"tasks {upstream.task_id!r} and {downstream.task_id!r} belong to no DAG: create them "
            "inside 'with DAG(...)' or pass dag=..."
        )
    for task in (upstream, downstream):
        if task.dag is None:
            dag.add_task(task)
        elif task.dag is not dag:
            raise DagDefinitionError(
                f"tasks {upstream.task_id!r} and {downstream.task_id!r} belong to different DAGs "
                f"({upstream.dag.dag_id!r} and {downstream.dag.dag_id!r})"  # type: ignore[union-attr]
            )
    upstream.downstream_task_ids.add(downstream.task_id)
    downstream.upstream_task_ids.add(upstream.task_id)
    dag.edges_changed()


class TaskNode(DependencyMixin):
    """What an operator and a mapped operator have in common as a node of a DAG."""

    task_id: str
    dag: DAG | None
    task_group: TaskGroup | None
    is_setup: bool
    is_teardown: bool
    on_failure_fail_dagrun: bool
    upstream_task_ids: set[str]
    downstream_task_ids: set[str]
    is_mapped: bool = False

    @property
    def roots(self) -> list[TaskNode]:
        return [self]

    @property
    def leaves(self) -> list[TaskNode]:
        return [self]

    @property
    def label(self) -> str:
        """The task id without its task group prefix."""
        if self.task_group is not None and self.task_group.prefix:
            return self.task_id[len(self.task_group.prefix) :]
        return self.task_id

    @property
    def dag_id(self) -> str:
        """The id of the task's DAG (Airflow's ``adhoc_<owner>`` for a task in none yet)."""
        if self.dag is not None:
            return self.dag.dag_id
        return f"adhoc_{getattr(self, 'owner', 'airflow')}"

    def _require_dag(self) -> DAG:
        if self.dag is None:
            raise DagDefinitionError(f"task {self.task_id!r} belongs to no DAG")
        return self.dag

    @property
    def upstream_list(self) -> list[TaskNode]:
        dag = self._require_dag()
        return [dag.task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[TaskNode]:
        dag = self._require_dag()
        return [dag.task_dict[t] for t in sorted(self.downstream_task_ids)]

    def get_direct_relatives(self, upstream: bool = False) -> list[TaskNode]:
        return self.upstream_list if upstream else self.downstream_list

    def get_flat_relative_ids(self, upstream: bool = False) -> set[str]:
        """Every task id upstream (or downstream) of this one, transitively."""
        return self._require_dag().relative_ids(self.task_id, upstream=upstream)

    def get_flat_relatives(self, upstream: bool = False) -> list[TaskNode]:
        dag = self._require_dag()
        return [dag.task_dict[t] for t in sorted(self.get_flat_relative_ids(upstream=upstream))]

    # -- setup and teardown -----------------------------------------------------------------

    def as_setup(self) -> TaskNode:
        """Mark this task as a setup: the work it prepares depends on its success."""
        self.is_setup = True
        return self

    def as_teardown(self, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None) -> TaskNode:
        """Mark this task as a teardown: it runs once its setups' work is done, whatever happened."""
        from dagflow.core.trigger_rules import TriggerRule

        self.is_teardown = True
        self.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
        if on_failure_fail_dagrun is not None:
            self.on_failure_fail_dagrun = on_failure_fail_dagrun
        if setups is not None:
            for setup in flatten_relatives(setups):
                for task in setup.leaves:
                    task.as_setup()
                self.set_upstream(setup)
        return self

    def __enter__(self) -> TaskNode:
        """``with my_setup_task:`` (see :mod:`dagflow.models.setup_teardown`)."""
        from dagflow.models.setup_teardown import enter_context

        enter_context(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from dagflow.models.setup_teardown import exit_context

        exit_context(self, failed=exc_type is not None)

    def iter_template_values(self) -> Iterable[Any]:
        """Values that may hold references to other tasks' outputs (they create edges)."""
        return ()


def ensure_sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, (list, tuple)):
        return value
    return [value]
