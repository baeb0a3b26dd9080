"""Edge labels: ``a >> Label("rows > 0") >> b`` or ``a.set_downstream(b, edge_modifier=Label(...))``.

A label changes nothing about when tasks run; it is stored with the DAG (``edge_info``, by upstream
and downstream task id, the shape Airflow serializes it in) and drawn on the graph beside the edge.
Between task groups it labels every task-to-task edge the group edge stands for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError
from dagflow.models.node import DependencyMixin, flatten_relatives, link

if TYPE_CHECKING:
    from dagflow.models.node import TaskNode


class EdgeModifier(DependencyMixin):
    """Stands between two sides of ``>>``: the edges made through it carry its ``label``."""

    is_edge_modifier = True

    def __init__(self, label: str | None = None):
        if label is not None and not isinstance(label, str):
            raise DagDefinitionError(f"an edge label must be a string, got {label!r}")
        self.label = label
        self._upstream: list[TaskNode] = []
        self._downstream: list[TaskNode] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"

    @property
    def roots(self) -> list[TaskNode]:
        return list(self._downstream)

    @property
    def leaves(self) -> list[TaskNode]:
        return list(self._upstream)

    def set_upstream(self, other: Any, edge_modifier: EdgeModifier | None = None) -> None:
        """``other >> label``: the leaves of ``other`` are the upstream side of the labelled edges."""
        for item in flatten_relatives(other):
            for leaf in item.leaves:
                self._upstream.append(leaf)
                for root in self._downstream:
                    self.link(leaf, root)

    def set_downstream(self, other: Any, edge_modifier: EdgeModifier | None = None) -> None:
        """``label >> other``: the roots of ``other`` are the downstream side of the labelled edges."""
        for item in flatten_relatives(other):
            for root in item.roots:
                self._downstream.append(root)
                for leaf in self._upstream:
                    self.link(leaf, root)

    def link(self, upstream: TaskNode, downstream: TaskNode) -> None:
        """Make the edge and remember its label in the DAG."""
        link(upstream, downstream)
        dag = upstream.dag or downstream.dag
        if dag is not None and self.label is not None:
            dag.set_edge_info(upstream.task_id, downstream.task_id, {"label": self.label})


def Label(label: str) -> EdgeModifier:
    """An edge labelled ``label``: ``a >> Label("yes") >> b``."""
    return EdgeModifier(label)
