"""The structure of a DAG as the scheduling decisions need it: plain, frozen, serialisable.

The in-process runner builds it from a DAG object; the scheduler daemon stores it as JSON, so that
deciding what runs next never needs the DAG file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from dagflow.core.saga import SagaGraph
from dagflow.core.trigger_rules import TriggerRule


@dataclass(frozen=True, slots=True)
class MapSourceSpec:
    """One mapped argument: a literal of known length, the output of task ``upstream``, or outputs
    combined (``combine``: ``zip``, ``zip_longest`` or ``concat`` of ``parts``)."""

    upstream: str | None = None
    literal_length: int | None = None
    combine: str | None = None
    parts: tuple[MapSourceSpec, ...] = ()

    def upstreams(self) -> list[str]:
        """Every task whose output this source's length depends on."""
        if self.upstream is not None:
            return [self.upstream]
        return [u for part in self.parts for u in part.upstreams()]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MapSourceSpec:
        values = dict(data)
        values["parts"] = tuple(cls.from_json(p) for p in values.get("parts", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What the scheduler needs to know about one task."""

    task_id: str
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    operator: str = "BaseOperator"
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False
    #: Setups this task depends on without being their direct downstream (setup/teardown scope).
    indirect_setups: tuple[str, ...] = ()
    is_mapped: bool = False
    map_kind: str | None = None
    map_sources: tuple[MapSourceSpec, ...] = ()
    #: Some mapped task maps over this task's output.
    has_mapped_dependants: bool = False
    #: May be marked successful without running (an EmptyOperator without callbacks).
    is_empty: bool = False
    retries: int = 0
    retry_delay: float = 300.0
    retry_exponential_backoff: bool = False
    max_retry_delay: float | None = None
    execution_timeout: float | None = None
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    queue: str = "default"
    depends_on_past: bool = False
    wait_for_downstream: bool = False
    max_active_tis_per_dag: int | None = None
    max_active_tis_per_dagrun: int | None = None
    group_id: str | None = None
    #: The task has a compensation (see :mod:`dagflow.core.saga`), with these retry settings.
    has_compensation: bool = False
    compensation_retries: int = 0
    compensation_retry_delay: float = 0.0
    compensation_timeout: float | None = None
    #: The queue the compensation names itself (a compensation operator's ``queue=``); None: the
    #: task's own ``queue``, where its workers have what the task needs.
    compensation_queue: str | None = None
    #: The innermost expanded task group (``@task_group`` with ``.expand``) this task is in: its task
    #: instances are that group's map indexes, and an upstream in the same group is followed index by index.
    map_group: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["trigger_rule"] = self.trigger_rule.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskSpec:
        values = dict(data)
        values["trigger_rule"] = TriggerRule(values["trigger_rule"])
        for name in ("upstream", "downstream", "indirect_setups"):
            values[name] = tuple(values.get(name, ()))
        values["map_sources"] = tuple(MapSourceSpec.from_json(s) for s in values.get("map_sources", ()))
        return cls(**values)


@dataclass(frozen=True)
class DagSpec:
    """A DAG's tasks in topological order, and which of them decide the run's state."""

    dag_id: str
    tasks: dict[str, TaskSpec]
    order: tuple[str, ...]
    state_leaves: tuple[str, ...]
    max_active_tasks: int = 16
    max_active_runs: int = 16
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def position(self) -> dict[str, int]:
        """Each task's index in the topological order."""
        return {task_id: index for index, task_id in enumerate(self.order)}

    @cached_property
    def setup_dependents(self) -> dict[str, tuple[str, ...]]:
        """For each setup, the tasks in its scope that are not its direct downstream."""
        found: dict[str, list[str]] = {}
        for task in self.tasks.values():
            for setup in task.indirect_setups:
                found.setdefault(setup, []).append(task.task_id)
        return {setup: tuple(tasks) for setup, tasks in found.items()}

    @property
    def compensate_on(self) -> str:
        """``failure``: a failed run is compensated; ``never``: only by hand."""
        return str(self.extra.get("compensate_on", "failure"))

    @property
    def compensated_groups(self) -> dict[str, dict[str, Any]]:
        """Task groups with a compensation of their own: group id -> ``tasks``, retry
        settings and ``queue``."""
        return dict(self.extra.get("compensated_groups") or {})

    @cached_property
    def saga_graph(self) -> SagaGraph:
        """The DAG's graph as the compensation order sees it (see :mod:`dagflow.core.saga`)."""
        groups = {group: tuple(info["tasks"]) for group, info in self.compensated_groups.items()}
        downstream = {task_id: task.downstream for task_id, task in self.tasks.items()}
        compensated = [task_id for task_id, task in self.tasks.items() if task.has_compensation]
        return SagaGraph.build(downstream, compensated, groups)

    @property
    def has_compensations(self) -> bool:
        return bool(self.compensated_groups) or any(t.has_compensation for t in self.tasks.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "tasks": [self.tasks[t].to_json() for t in self.order],
            "state_leaves": list(self.state_leaves),
            "max_active_tasks": self.max_active_tasks,
            "max_active_runs": self.max_active_runs,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DagSpec:
        tasks = [TaskSpec.from_json(t) for t in data["tasks"]]
        return cls(
            dag_id=data["dag_id"],
            tasks={t.task_id: t for t in tasks},
            order=tuple(t.task_id for t in tasks),
            state_leaves=tuple(data["state_leaves"]),
            max_active_tasks=data.get("max_active_tasks", 16),
            max_active_runs=data.get("max_active_runs", 16),
            extra=dict(data.get("extra") or {}),
        )
