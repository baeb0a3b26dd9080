"""Priority-weight strategies: how a task's ``weight_rule`` turns into the priority the queue sorts by.

``weight_rule`` is ``"downstream"`` (the default: the task's weight plus every downstream task's),
``"upstream"``, ``"absolute"``, or a :class:`PriorityWeightStrategy` whose class a plugin registers
(``priority_weight_strategies = [MyStrategy]``), given as an instance, the class, or its class path.
As in Airflow, a custom strategy is rebuilt from its registered class, and its ``get_weight(ti)`` is
asked when the task instance is created: here once per DAG version, with a task instance of map
index -1 and try number 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagflow.exceptions import DagDefinitionError

BUILTIN_RULES = ("downstream", "upstream", "absolute")


class PriorityWeightStrategy:
    """Subclass and implement :meth:`get_weight`; register the class in a plugin."""

    def get_weight(self, ti: Any) -> int:
        """The priority weight of task instance ``ti`` (``ti.task`` is the operator)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_weight(ti)")

    def serialize(self) -> dict[str, Any]:
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> PriorityWeightStrategy:
        return cls(**data)


@dataclass
class CreatedTaskInstance:
    """What a strategy sees of a task instance being created."""

    task: Any
    dag_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 0

    @property
    def priority_weight(self) -> int:
        return int(getattr(self.task, "priority_weight", 1))


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_weight_rule(value: Any, where: str) -> str | PriorityWeightStrategy:
    """A built-in rule's name, or an instance of the registered strategy ``value`` names."""
    rule = getattr(value, "value", value)  # Airflow's WeightRule enum
    if isinstance(rule, str) and rule in BUILTIN_RULES:
        return rule
    if isinstance(value, str):
        path = value
    elif isinstance(value, type):
        path = _class_path(value)
    elif isinstance(value, PriorityWeightStrategy):
        path = _class_path(type(value))
    else:
        raise DagDefinitionError(
            f"{where}: weight_rule must be one of {', '.join(BUILTIN_RULES)} or a PriorityWeightStrategy, "
            f"got {value!r}"
        )
    from dagflow.plugins.manager import current_plugins

    registered = current_plugins().priority_weight_strategies.get(path)
    if registered is None:
        raise DagDefinitionError(
            f"{where}: weight_rule must be one of {', '.join(BUILTIN_RULES)} or a priority weight strategy "
            f"a plugin registers (`priority_weight_strategies` in the plugins folder); got {path!r}"
        )
    data = value.serialize() if isinstance(value, PriorityWeightStrategy) else {}
    strategy: PriorityWeightStrategy = registered.deserialize(data)
    return strategy
