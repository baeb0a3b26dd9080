"""Which DAG and which task group a task created right now belongs to.

``with DAG(...)`` and ``with TaskGroup(...)`` push onto these stacks; an operator created inside
picks them up. The stacks are process state by nature (the ``with`` syntax needs them) but they are
only touched while DAG files are being defined, never read from configuration.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dagflow.models.dag import DAG
    from dagflow.models.taskgroup import TaskGroup

_dags: list[DAG] = []
_groups: list[TaskGroup] = []
#: Every DAG defined since the last :func:`collect_registered`, in definition order.
_registered: list[DAG] = []
_unmapping_depth = 0
#: How DAG files being loaded right now read a cron ``schedule=`` (set by the DagBag from settings).
_cron_data_intervals = False


def push_dag(dag: DAG) -> None:
    _dags.append(dag)


def pop_dag() -> DAG:
    return _dags.pop()


def current_dag() -> DAG | None:
    return _dags[-1] if _dags else None


def push_group(group: TaskGroup) -> None:
    _groups.append(group)


def pop_group() -> TaskGroup:
    return _groups.pop()


def current_group(dag: DAG | None) -> TaskGroup | None:
    """The innermost open task group of ``dag``, if any."""
    for group in reversed(_groups):
        if group.dag is dag:
            return group
    return None


def register(dag: DAG) -> None:
    if not any(seen is dag for seen in _registered):
        _registered.append(dag)


def collect_registered() -> list[DAG]:
    """Return the DAGs defined since the last call, and forget them."""
    found = list(_registered)
    _registered.clear()
    return found


@contextmanager
def unmapping() -> Iterator[None]:
    """Operators created inside build one map index of a mapped task: they join no DAG."""
    global _unmapping_depth
    _unmapping_depth += 1
    try:
        yield
    finally:
        _unmapping_depth -= 1


def is_unmapping() -> bool:
    return _unmapping_depth > 0


@contextmanager
def parsing(*, cron_data_intervals: bool) -> Iterator[None]:
    """Options that apply to the DAGs defined inside the block (the DagBag passes its settings here)."""
    global _cron_data_intervals
    previous, _cron_data_intervals = _cron_data_intervals, cron_data_intervals
    try:
        yield
    finally:
        _cron_data_intervals = previous


def cron_data_intervals() -> bool:
    return _cron_data_intervals
