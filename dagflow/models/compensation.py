"""A task's compensation: what undoes its work when its run fails (see :mod:`dagflow.core.saga`).

``compensate=`` takes a callable (called like a ``python_callable``, with the context names it
declares, ``context["compensation"]`` included) or an operator that is not part of the forward graph.
The ``@task`` decorator form (``@charge.compensation``) calls the function with the forward task's
arguments and then its return value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from dagflow.models.dag import DAG
    from dagflow.models.node import TaskNode

COMPENSATE_ON = ("failure", "never")


@dataclass(frozen=True)
class Compensation:
    """How one task (or task group) is undone.

    ``retries``, ``retry_delay`` and ``timeout`` of None take the forward task's ``retries``,
    ``retry_delay`` and ``execution_timeout``.
    """

    target: Callable[..., Any] | Any
    retries: int | None = None
    retry_delay: timedelta | None = None
    timeout: timedelta | None = None
    #: The ``@task.compensation`` form: called with the forward task's arguments and return value.
    takes_forward_arguments: bool = False

    @property
    def is_operator(self) -> bool:
        from dagflow.models.baseoperator import BaseOperator

        return isinstance(self.target, BaseOperator)

    @property
    def name(self) -> str:
        if self.is_operator:
            target: Any = self.target
            return f"{type(target).__name__}({target.task_id!r})"
        return str(getattr(self.target, "__name__", repr(self.target)))


def as_compensation(
    value: Any,
    *,
    where: str,
    retries: Any = None,
    retry_delay: Any = None,
    timeout: Any = None,
    takes_forward_arguments: bool = False,
) -> Compensation | None:
    """Check ``compensate=`` and its options; None when the task has no compensation."""
    from dagflow.models.baseoperator import BaseOperator, as_timedelta

    if value is None:
        if any(v is not None for v in (retries, retry_delay, timeout)):
            raise DagDefinitionError(
                f"{where}: compensation_retries/compensation_retry_delay/compensation_timeout need "
                "compensate= as well; pass the callable or operator that undoes the task"
            )
        return None
    if isinstance(value, Compensation):  # the @task.compensation form
        value, takes_forward_arguments = value.target, value.takes_forward_arguments
    if not (callable(value) or isinstance(value, BaseOperator)) or _is_task_reference(value):
        raise DagDefinitionError(
            f"{where}: compensate= must be a callable or an operator outside the DAG's graph, got "
            f"{value!r}; pass a function (it receives the context) or an operator created outside "
            "'with DAG(...)'"
        )
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        raise DagDefinitionError(
            f"{where}: compensation_retries must be a non-negative integer, got {retries!r}"
        )
    return Compensation(
        target=value,
        retries=retries,
        retry_delay=as_timedelta(retry_delay, "compensation_retry_delay", where),
        timeout=as_timedelta(timeout, "compensation_timeout", where),
        takes_forward_arguments=takes_forward_arguments,
    )


def _is_task_reference(value: Any) -> bool:
    """A task's output or a ``@task`` function is not a compensation (a likely mistake)."""
    from dagflow.models.xcom_arg import XComArg

    return isinstance(value, XComArg)


def check_compensations(dag: DAG) -> None:
    """A compensation operator must stay out of the forward graph: not one of the DAG's tasks, no
    upstream or downstream of its own, and not shared by two tasks."""
    owners: dict[int, str] = {}
    for node_id, compensation in compensations_of(dag).items():
        if not compensation.is_operator:
            continue
        operator: Any = compensation.target
        where = f"DAG {dag.dag_id!r}, task {node_id!r}: compensate={compensation.name}"
        if operator.dag is not None and operator.dag.task_dict.get(operator.task_id) is operator:
            raise DagDefinitionError(
                f"{where} is a task of the DAG's graph; create the compensation operator outside "
                "'with DAG(...)' (it runs only to undo the task), or pass a callable"
            )
        if operator.upstream_task_ids or operator.downstream_task_ids:
            raise DagDefinitionError(
                f"{where} has upstream or downstream tasks of its own; a compensation runs alone, "
                "so remove its dependencies"
            )
        if id(operator) in owners:
            raise DagDefinitionError(
                f"{where} is also the compensation of task {owners[id(operator)]!r}; give each task "
                "its own compensation operator"
            )
        owners[id(operator)] = node_id


def compensations_of(dag: DAG) -> dict[str, Compensation]:
    """Every compensation of ``dag``: by task id, and by group id for a task group's own."""
    found: dict[str, Compensation] = {}
    for task_id, task in dag.task_dict.items():
        compensation = getattr(task, "compensation", None)
        if compensation is not None:
            found[task_id] = compensation
    for group_id, group in dag.task_group_dict.items():
        if group.compensation is not None:
            found[group_id] = group.compensation
    return found


def effective_settings(compensation: Compensation, task: TaskNode | None) -> tuple[int, float, float | None]:
    """Retries, retry delay (seconds) and timeout (seconds) of a compensation, the forward task's
    own where the compensation sets none."""
    attrs: Any = task
    retries = compensation.retries if compensation.retries is not None else getattr(attrs, "retries", 0)
    delay = compensation.retry_delay
    if delay is None:
        delay = getattr(attrs, "retry_delay", None) or timedelta(0)
    timeout = (
        compensation.timeout
        if compensation.timeout is not None
        else getattr(attrs, "execution_timeout", None)
    )
    return int(retries or 0), delay.total_seconds(), timeout.total_seconds() if timeout else None


def own_queue(compensation: Compensation) -> str | None:
    """The queue a compensation names itself: an operator's ``queue=``. None for a callable or an
    operator left on the default queue: the compensation then runs on its task's queue, since only
    the workers there may have what the task needs (credentials, network, libraries)."""
    queue = getattr(compensation.target, "queue", None) if compensation.is_operator else None
    return None if queue in (None, "default") else str(queue)


def group_queue(compensation: Compensation, tasks: list[TaskNode]) -> str:
    """Where a task group's compensation runs: its own queue, else the queue the group's tasks
    share, else (they run on different queues) the default queue."""
    queues = {str(getattr(task, "queue", "default")) for task in tasks}
    return own_queue(compensation) or (queues.pop() if len(queues) == 1 else "default")
