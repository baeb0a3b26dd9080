"""One try of one compensation: undo what a task instance (or a task group) of a run did.

Used unchanged by ``dag.test()`` and by the scheduler's workers. The compensation runs with the
forward task's context (its ``ti`` pulls the forward task's XComs by default, at its map index) plus
``context["compensation"]``: why it runs. Its return value is not pushed: the forward task's XComs
stay as they were, for the other compensations to read.
"""

from __future__ import annotations

import copy
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagflow.context import DagRunInfo, build_context, current_context
from dagflow.core.clock import utcnow
from dagflow.core.keys import TIKey
from dagflow.core.retries import should_retry
from dagflow.core.states import TaskState
from dagflow.exceptions import DagflowError, FailTask, TaskTimeout
from dagflow.models import context_stack
from dagflow.operators.python import callable_kwargs
from dagflow.runtime.task_instance import RuntimeTaskInstance
from dagflow.runtime.tasklog import TaskLog, capture
from dagflow.runtime.taskrunner import AttemptOutcome, task_instance_for
from dagflow.runtime.xcom import RETURN_KEY, XComStore
from dagflow.templating import render_template_fields, template_env
from dagflow.timeout import time_limit

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.compensation import Compensation
    from dagflow.models.dag import DAG
    from dagflow.models.node import TaskNode


@dataclass(frozen=True)
class CompensationAttempt:
    """Which compensation try to run, and why it runs."""

    node_id: str
    map_index: int
    try_number: int
    max_tries: int
    dag_run: DagRunInfo
    timeout: float | None = None
    #: The run's failed task ids and the run's state, as ``context["compensation"]`` shows them.
    failed_tasks: tuple[str, ...] = ()
    run_state: str = "failed"
    reason: dict[str, Any] = field(default_factory=dict)


def compensation_log_path(base: str | os.PathLike[str], key: TIKey, try_number: int) -> Path:
    """``<base>/<dag_id>/<run_id>/<task_id>/compensation/attempt=<n>.log`` (map index folders as usual)."""
    folder = Path(base) / key.dag_id / key.run_id / key.task_id / "compensation"
    if key.map_index >= 0:
        folder = folder / f"map_index={key.map_index}"
    return folder / f"attempt={try_number}.log"


def find_compensation(dag: DAG, node_id: str) -> Compensation:
    """The compensation of task or task group ``node_id`` of ``dag``."""
    from dagflow.models.compensation import compensations_of

    found = compensations_of(dag).get(node_id)
    if found is None:
        raise DagflowError(
            f"DAG {dag.dag_id!r}: task {node_id!r} has no compensation in the DAG file any more; "
            "restore its compensate= or mark the run's compensation by hand"
        )
    return found


def run_compensation(
    dag: DAG, attempt: CompensationAttempt, *, xcom_store: XComStore, log: TaskLog, hostname: str = ""
) -> AttemptOutcome:
    """Run ``attempt`` in this process and return how it ended; never raises for its failure."""
    start = utcnow()
    outcome = AttemptOutcome(state=TaskState.SUCCESS, start_date=start, end_date=start)
    label = attempt.node_id if attempt.map_index < 0 else f"{attempt.node_id}[{attempt.map_index}]"
    log.info(f"Compensating {dag.dag_id}.{label} {attempt.dag_run.run_id}, try {attempt.try_number}")
    with capture(log):
        try:
            compensation = find_compensation(dag, attempt.node_id)
            task = _forward_task(dag, attempt.node_id)
            ti = task_instance_for(task, attempt, xcom_store, start, hostname=hostname)
            params = _params(dag, task).with_values(attempt.dag_run.conf).validate()
            context = build_context(dag=dag, task=task, ti=ti, dag_run=attempt.dag_run, params=params)
            context["compensation"] = _reason(attempt, ti)
            with current_context(context):
                _invoke(dag, compensation, task, ti, context, attempt.timeout)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            retry = not isinstance(exc, FailTask) and should_retry(
                try_number=attempt.try_number, max_tries=attempt.max_tries
            )
            outcome.state = TaskState.UP_FOR_RETRY if retry else TaskState.FAILED
            outcome.error = f"{type(exc).__name__}: {exc}"
            log.error(f"Compensation failed ({outcome.state.value})", exc)
    outcome.end_date = utcnow()
    log.info(f"Compensation of {label} ended {outcome.state.value}")
    return outcome


def _forward_task(dag: DAG, node_id: str) -> TaskNode:
    """The forward task; for a task group, a stand-in named like the group."""
    if node_id in dag.task_dict:
        return dag.task_dict[node_id]
    from dagflow.operators.empty import EmptyOperator

    with context_stack.unmapping():
        return EmptyOperator(task_id=node_id, dag=dag)


def _params(dag: DAG, task: TaskNode) -> Any:
    """The DAG's params with the forward task's own over them, as the forward task saw them."""
    attrs: Any = task
    merged = dag.params.copy()
    own = attrs.partial_kwargs.get("params") if task.is_mapped else getattr(attrs, "_own_params", None)
    merged.update(own or {})
    return merged


def _reason(attempt: CompensationAttempt, ti: RuntimeTaskInstance) -> dict[str, Any]:
    found, value = ti.xcom_store.get(ti.run_ref, attempt.node_id, attempt.map_index, RETURN_KEY)
    return {
        "task_id": attempt.node_id,
        "map_index": attempt.map_index,
        "failed_tasks": list(attempt.failed_tasks),
        "run_state": attempt.run_state,
        "return_value": value if found else None,
        "try_number": attempt.try_number,
        **attempt.reason,
    }


def _invoke(
    dag: DAG,
    compensation: Compensation,
    task: TaskNode,
    ti: RuntimeTaskInstance,
    context: Context,
    timeout: float | None,
) -> None:
    with time_limit(timeout, lambda: TaskTimeout(f"the compensation exceeded its timeout of {timeout:g}s")):
        if compensation.is_operator:
            _run_operator(dag, compensation.target, context)
        elif compensation.takes_forward_arguments:
            args = _forward_arguments(dag, task, ti, context)
            value = context["compensation"]["return_value"]
            function = compensation.target
            function(*args, value, **callable_kwargs(function, [*args, value], context))
        else:
            function = compensation.target
            function(**callable_kwargs(function, (), context))


def _run_operator(dag: DAG, operator: Any, context: Context) -> None:
    """Run a compensation operator: a copy, with its templates rendered against this context."""
    runnable = copy.copy(operator)
    runnable.dag = dag
    context["task"] = runnable
    render_template_fields(runnable, context, template_env(dag))
    runnable.execute(context)


def _forward_arguments(dag: DAG, task: TaskNode, ti: RuntimeTaskInstance, context: Context) -> list[Any]:
    """The forward ``@task`` function's arguments as its try received them, in signature order."""
    resolved_ids: set[int] = set()
    attrs: Any = task
    operator = (
        attrs.unmap(context, ti.map_index, resolved_ids) if task.is_mapped else attrs.prepare_for_execution()
    )
    operator.dag = dag
    render_template_fields(operator, context, template_env(dag), resolved_ids)
    signature = inspect.signature(operator.python_callable)
    bound = signature.bind_partial(*operator.op_args, **operator.op_kwargs)
    args: list[Any] = []
    for name, parameter in signature.parameters.items():
        if name not in bound.arguments:
            continue
        if parameter.kind is parameter.VAR_POSITIONAL:
            args.extend(bound.arguments[name])
        elif parameter.kind is not parameter.VAR_KEYWORD:
            args.append(bound.arguments[name])
    return args
