"""Compensation (saga) decisions for one DAG run: which compensations may start now, and the run's
compensation state.

When a run fails (or someone compensates a run by hand), every task instance that ended ``success``
and whose task has a compensation is undone. The rules, in one place, for ``dag.test()`` and the
scheduler alike:

- reverse dependency order: a compensation starts only once the compensations of every task
  downstream of its task (directly, or through tasks without a compensation of their own) have
  succeeded; compensations that do not depend on each other run in parallel;
- a mapped task compensates per map index; the indexes of one task do not wait for each other,
  but each waits for every index of a downstream task;
- a compensation that failed (after its retries) blocks only the compensations upstream of it;
  the others still run, and the run's compensation ends ``compensation_failed``;
- a task group may carry a compensation for the group as a whole: it runs after the compensations
  of the group's tasks and of everything downstream of the group, and before those upstream of it.

Pure functions over plain values: no database, no processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dagflow.core.states import TaskState

Key = tuple[str, int]


class RunCompensation(StrEnum):
    """A run's compensation state: a field of its own, beside the run's state (which stays as it was)."""

    NONE = "none"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


#: The states one compensation goes through (a subset of the task-instance states).
COMPENSATION_STATES = (
    TaskState.NONE,
    TaskState.QUEUED,
    TaskState.RUNNING,
    TaskState.UP_FOR_RETRY,
    TaskState.SUCCESS,
    TaskState.FAILED,
)
_UNDER_WAY = frozenset({TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING})


@dataclass(frozen=True)
class SagaGraph:
    """What the compensation order needs to know about a DAG.

    ``downstream`` maps every node (a task id, or the id of a task group that has a compensation) to
    the nodes directly downstream of it; ``compensated`` names the nodes that have a compensation;
    ``groups`` maps a compensated group's id to the ids of its tasks.
    """

    downstream: Mapping[str, tuple[str, ...]]
    compensated: frozenset[str]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Every node, downstream ones first (the order the decisions visit them in).
    bottom_up: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        downstream: Mapping[str, Iterable[str]],
        compensated: Iterable[str],
        groups: Mapping[str, Iterable[str]] | None = None,
    ) -> SagaGraph:
        """A graph of tasks (``downstream``: each task's direct downstream tasks), with the compensated
        task groups woven in as nodes of their own (see the module docstring)."""
        edges: dict[str, set[str]] = {task: set(down) for task, down in downstream.items()}
        members = {group: tuple(tasks) for group, tasks in (groups or {}).items()}
        for group, tasks in members.items():
            inside = set(tasks)
            outgoing = {d for t in tasks for d in edges.get(t, ()) if d not in inside}
            edges[group] = inside | outgoing
            for task, down in list(edges.items()):
                if task not in inside and task != group and down & inside:
                    down.add(group)
        downstream_of = {node: tuple(sorted(down)) for node, down in edges.items()}
        return cls(
            downstream=downstream_of,
            compensated=frozenset(compensated) | frozenset(members),
            groups=members,
            bottom_up=_bottom_up(downstream_of),
        )


def _bottom_up(downstream: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The nodes, each after every node downstream of it."""
    waiting = {node: len(down) for node, down in downstream.items()}
    upstream: dict[str, list[str]] = {}
    for node, down in downstream.items():
        for child in down:
            waiting.setdefault(child, 0)
            upstream.setdefault(child, []).append(node)
    ready = sorted(node for node, count in waiting.items() if count == 0)
    found: list[str] = []
    while ready:
        node = ready.pop()
        found.append(node)
        for parent in upstream.get(node, ()):
            waiting[parent] -= 1
            if waiting[parent] == 0:
                ready.append(parent)
    return tuple(found)


@dataclass(slots=True)
class CompensationRecord:
    """One compensation as the decisions see it."""

    state: TaskState = TaskState.NONE
    #: For ``up_for_retry``: not to start again before this moment.
    not_before: datetime | None = None


@dataclass
class SagaDecisions:
    """The outcome of one look at a run's compensations."""

    #: The forward task instances to undo (a group's key is ``(group_id, -1)``), in no set order.
    targets: list[Key] = field(default_factory=list)
    #: Compensations that may start now, in reverse topological order of their tasks.
    ready: list[Key] = field(default_factory=list)
    #: For each compensation not yet started: the compensations it still waits for.
    waiting_for: dict[Key, list[Key]] = field(default_factory=dict)
    #: For each compensation that cannot start: the failed compensations that block it.
    blocked_by: dict[Key, list[Key]] = field(default_factory=dict)
    state: RunCompensation = RunCompensation.COMPENSATING
    #: The earliest moment a compensation waiting for a retry becomes due.
    waiting_until: datetime | None = None


def targets_of(graph: SagaGraph, forward: Mapping[Key, TaskState]) -> list[Key]:
    """The forward task instances to compensate: those that succeeded and have a compensation, plus
    every compensated task group one of whose task instances succeeded."""
    found = [
        key for key, state in forward.items() if state is TaskState.SUCCESS and key[0] in graph.compensated
    ]
    succeeded_tasks = {key[0] for key, state in forward.items() if state is TaskState.SUCCESS}
    found.extend((group, -1) for group, tasks in graph.groups.items() if succeeded_tasks & set(tasks))
    return found


def decide_compensations(
    graph: SagaGraph,
    forward: Mapping[Key, TaskState],
    compensations: Mapping[Key, CompensationRecord],
    *,
    now: datetime,
) -> SagaDecisions:
    """Decide which compensations of one run may start now, and the run's compensation state.

    ``forward`` holds the state of each of the run's task instances; ``compensations`` the state of
    each compensation that has a record (none yet means not started). One visit of the graph,
    downstream nodes first, says for each node whether everything below it is undone, which failed
    compensations lie below it, and the nearest compensations below it still to end.
    """
    decisions = SagaDecisions(targets=targets_of(graph, forward))
    by_node: dict[str, list[Key]] = {}
    for key in decisions.targets:
        by_node.setdefault(key[0], []).append(key)
    states = {key: compensations.get(key, _NOT_STARTED).state for key in decisions.targets}
    below = _below(graph, by_node, states)
    for key in decisions.targets:
        _decide_one(key, states, compensations, below[key[0]], now, decisions)
    decisions.state = _run_state(states.values(), decisions)
    decisions.ready.sort()
    return decisions


_NOT_STARTED = CompensationRecord()


@dataclass(frozen=True, slots=True)
class _Below:
    """What lies downstream of a node, as far as compensations go."""

    #: The failed compensations downstream.
    failed: tuple[Key, ...] = ()
    #: The nearest compensations downstream that have not succeeded.
    pending: tuple[Key, ...] = ()


_NOTHING = _Below()


def _below(
    graph: SagaGraph, by_node: Mapping[str, list[Key]], states: Mapping[Key, TaskState]
) -> dict[str, _Below]:
    """For each node, what lies below it. A compensation that succeeded ran only once everything
    below it had succeeded, so the search for pending ones stops there."""
    found: dict[str, _Below] = {}
    for node in graph.bottom_up:
        failed: dict[Key, None] = {}
        pending: dict[Key, None] = {}
        for child in graph.downstream.get(node, ()):
            keys = by_node.get(child, ())
            under = found.get(child, _NOTHING)
            failed.update(dict.fromkeys(k for k in keys if states[k] is TaskState.FAILED))
            failed.update(dict.fromkeys(under.failed))
            own = [k for k in keys if states[k] is not TaskState.SUCCESS]
            pending.update(dict.fromkeys(own if own or keys else under.pending))
        found[node] = _Below(tuple(failed), tuple(pending)) if failed or pending else _NOTHING
    return found


def _decide_one(
    key: Key,
    states: Mapping[Key, TaskState],
    compensations: Mapping[Key, CompensationRecord],
    below: _Below,
    now: datetime,
    decisions: SagaDecisions,
) -> None:
    state = states[key]
    if state not in (TaskState.NONE, TaskState.UP_FOR_RETRY):
        return
    if state is TaskState.UP_FOR_RETRY:  # it started once, so whatever it waited for has succeeded
        due = compensations[key].not_before
        if due is None or due <= now:
            decisions.ready.append(key)
        elif decisions.waiting_until is None or due < decisions.waiting_until:
            decisions.waiting_until = due
        return
    if below.failed:
        decisions.blocked_by[key] = sorted(below.failed)
    if below.pending:
        decisions.waiting_for[key] = sorted(below.pending)
    else:
        decisions.ready.append(key)


def _run_state(states: Iterable[TaskState], decisions: SagaDecisions) -> RunCompensation:
    """Compensating while anything runs or may still run; compensated when every compensation
    succeeded; compensation_failed when one failed and all that could run have ended."""
    values = list(states)
    if decisions.ready or any(s in _UNDER_WAY or s is TaskState.UP_FOR_RETRY for s in values):
        return RunCompensation.COMPENSATING
    if any(k not in decisions.blocked_by for k in decisions.waiting_for):
        return RunCompensation.COMPENSATING
    if any(s is TaskState.FAILED for s in values):
        return RunCompensation.COMPENSATION_FAILED
    return RunCompensation.COMPENSATED


def compensation_label(key: Key) -> str:
    """``task_id``, or ``task_id[i]`` for map index ``i``: how reports name a compensation."""
    return key[0] if key[1] < 0 else f"{key[0]}[{key[1]}]"


def explain_compensation(
    key: Key,
    *,
    run_state: RunCompensation,
    forward_state: TaskState | None,
    record: CompensationRecord | None,
    decisions: SagaDecisions,
) -> list[str]:
    """Why the compensation of ``key`` is not running (or what it did), in plain sentences."""
    label = compensation_label(key)
    state = record.state if record is not None else TaskState.NONE
    if state is TaskState.SUCCESS:
        return [f"The compensation of {label} succeeded; it never runs again for this try of {label}."]
    if state in _UNDER_WAY:
        return [f"The compensation of {label} is {state.value} now."]
    if key not in decisions.targets and forward_state is not TaskState.SUCCESS:
        shown = forward_state.value if forward_state is not None else "nothing that succeeded"
        return [f"{label} ended {shown}: only task instances that succeeded are compensated."]
    if run_state is RunCompensation.NONE:
        return [
            "The run is not being compensated: it did not fail, or its DAG has compensate_on='never'. "
            "Compensate it by hand with 'dagflow runs compensate'."
        ]
    if key in decisions.blocked_by:
        failed = ", ".join(compensation_label(k) for k in decisions.blocked_by[key])
        return [
            f"The compensation of {failed} (downstream of {label}) failed, so {label} waits: fix it, then "
            "resume with 'dagflow runs compensate --resume'."
        ]
    if state is TaskState.FAILED:
        return [
            f"The compensation of {label} failed after its retries; resume with "
            "'dagflow runs compensate --resume' once the cause is fixed."
        ]
    if state is TaskState.UP_FOR_RETRY and record is not None and record.not_before is not None:
        return [f"The compensation of {label} waits for its retry at {record.not_before.isoformat()}."]
    if key in decisions.waiting_for:
        pending = ", ".join(compensation_label(k) for k in decisions.waiting_for[key])
        return [f"It waits for the compensations downstream of {label} to succeed first: {pending}."]
    return [f"The compensation of {label} may start now; the scheduler hands it out on its next pass."]
