"""``chain``, ``chain_linear`` and ``cross_downstream``: dependencies between many tasks at once."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from dagflow.exceptions import DagDefinitionError
from dagflow.models.node import DependencyMixin


def chain(*elements: Any) -> None:
    """Each element runs after the one before it; two lists next to each other are linked pairwise.

    ``chain(a, [b, c], [d, e], f)`` gives a>>b, a>>c, b>>d, c>>e, d>>f, e>>f.
    """
    for upstream, downstream in pairwise(elements):
        if isinstance(upstream, DependencyMixin):
            upstream.set_downstream(downstream)
        elif isinstance(downstream, DependencyMixin):
            downstream.set_upstream(upstream)
        elif isinstance(upstream, Sequence) and isinstance(downstream, Sequence):
            if len(upstream) != len(downstream):
                raise DagDefinitionError(
                    f"chain() links neighbouring lists pairwise, so they need the same length; "
                    f"got {len(upstream)} and {len(downstream)}"
                )
            for up, down in zip(upstream, downstream, strict=True):
                up.set_downstream(down)
        else:
            raise DagDefinitionError(
                f"chain() takes tasks, task groups, outputs or lists of them, not {type(upstream).__name__} "
                f"and {type(downstream).__name__}"
            )


def chain_linear(*elements: Any) -> None:
    """Every task of each element runs after every task of the element before it."""
    if not elements:
        raise DagDefinitionError("chain_linear() needs at least two elements")
    linked = False
    previous: Any = None
    for element in elements:
        current = list(element) if isinstance(element, Sequence) else [element]
        if previous is not None:
            for up in previous:
                for down in current:
                    up.set_downstream(down)
                    linked = True
        previous = current
    if not linked:
        raise DagDefinitionError("chain_linear() set no dependency: did you forget to unpack a list with *?")


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Any) -> None:
    """Every task in ``to_tasks`` runs after every task in ``from_tasks``."""
    for task in from_tasks:
        task.set_downstream(to_tasks)
