"""One try of one task instance: resolve arguments, render templates, execute, push XComs, report.

Used unchanged by the in-process runner and by the worker processes of the scheduler daemon. The
outcome follows Airflow: ``SkipTask`` skips, ``FailTask`` fails without retrying, any other error
(a timeout included) is retried while tries remain, and a branching operator's skips come back as
``skip_downstream`` without a ``return_value`` XCom.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from dagflow.context import DagRunInfo, build_context, current_context
from dagflow.core.clock import utcnow
from dagflow.core.retries import should_retry
from dagflow.core.states import TaskState
from dagflow.exceptions import (
    DownstreamTasksSkipped,
    FailTask,
    RescheduleTask,
    SkipTask,
    TaskLost,
    TaskTerminated,
    TaskTimeout,
    XComValueError,
)
from dagflow.models.mappedtaskgroup import expanded_ti_count
from dagflow.models.retry_policy import RetryAction, ask
from dagflow.runtime.task_instance import RuntimeTaskInstance
from dagflow.runtime.tasklog import TaskLog, capture
from dagflow.runtime.xcom import RETURN_KEY, XComStore
from dagflow.secrets.masker import redact
from dagflow.templating import render_template_fields, template_env
from dagflow.timeout import time_limit

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.core.spec import TaskSpec
    from dagflow.models.baseoperator import BaseOperator
    from dagflow.models.dag import DAG
    from dagflow.models.node import TaskNode
    from dagflow.models.retry_policy import RetryPolicy
    from dagflow.runtime.dag_trigger import DagTrigger
    from dagflow.runtime.run_reader import RunStateReader


#: Airflow's ``[core] max_map_length``: the most items a task's output may offer to map over.
DEFAULT_MAX_MAP_LENGTH = 1024


@dataclass(frozen=True)
class Attempt:
    """Which try to run."""

    task_id: str
    map_index: int
    try_number: int
    max_tries: int
    dag_run: DagRunInfo
    #: When this try first started, if it is resumed after ``up_for_reschedule`` (a sensor's timeout
    #: counts from then); None for a try's first start.
    first_try_start: datetime | None = None


@dataclass
class AttemptOutcome:
    """How a try ended. ``map_length`` is set when mapped tasks will map over this task's output."""

    state: TaskState
    start_date: datetime
    end_date: datetime
    skip_downstream: list[str] = field(default_factory=list)
    #: When set, only this map index of the ``skip_downstream`` tasks is skipped.
    skip_map_index: int | None = None
    reschedule_at: datetime | None = None
    map_length: int | None = None
    error: str | None = None
    rendered_fields: dict[str, Any] = field(default_factory=dict)
    #: A mapped task instance's label, its task's ``map_index_template`` rendered once it ran.
    rendered_map_index: str | None = None
    #: For ``up_for_retry``: the wait the task's retry policy chose for this retry, instead of its
    #: ``retry_delay``.
    retry_delay: timedelta | None = None


def run_attempt(
    dag: DAG,
    spec: TaskSpec,
    attempt: Attempt,
    *,
    xcom_store: XComStore,
    log: TaskLog,
    hostname: str = "",
    run_states: RunStateReader | None = None,
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
    dag_trigger: DagTrigger | None = None,
    still_ours: Callable[[], bool] | None = None,
) -> AttemptOutcome:
    """Run ``attempt`` in this process and return how it ended. Never raises for a task's failure.

    ``run_states`` is what the task may read about DAG runs (``ti.task_states(...)``);
    ``max_map_length`` the most items an output that mapped tasks map over may have.
    ``dag_trigger`` what creates other DAGs' runs (TriggerDagRunOperator). ``still_ours`` is asked
    once the task code has ended: False (the try was taken from this process: the scheduler ended it,
    or it was cleared) runs none of its callbacks here, as its outcome will be discarded; whoever
    took it runs what follows (see :func:`run_ended_try_callbacks`).
    """
    task = dag.task_dict[attempt.task_id]
    start = utcnow()
    ti = task_instance_for(
        task, attempt, xcom_store, start, hostname=hostname, run_states=run_states, dag_trigger=dag_trigger
    )
    log.info(f"Starting {ti!r}, try {attempt.try_number} of {attempt.max_tries + 1}")
    xcom_store.clear(ti.run_ref, ti.task_id, ti.map_index)
    outcome = AttemptOutcome(state=TaskState.SUCCESS, start_date=start, end_date=start)
    context: Context = {}
    error: BaseException | None = None
    with capture(log):
        try:
            context = _context_for(dag, task, ti, attempt.dag_run)
            with current_context(context):
                _run(dag, task, spec, ti, context, outcome, max_map_length)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            error = exc
            outcome.state = _failed_state(exc, ti)
            policy = getattr(task, "retry_policy", None)
            if outcome.state is TaskState.UP_FOR_RETRY and policy is not None:
                outcome.state, outcome.retry_delay = _policy_decides(policy, exc, ti, context, log)
            outcome.error = redact(f"{type(exc).__name__}: {exc}")
            if isinstance(exc, RescheduleTask):
                outcome.reschedule_at, outcome.error = exc.reschedule_at, None
            _log_failure(log, exc, outcome.state)
        _push_plugin_links(ti)
        outcome.rendered_map_index = _render_map_index(dag, ti, context, log)
        outcome.end_date = ti.end_date = utcnow()
        ti.state = outcome.state.value
        if still_ours is None or still_ours():
            _run_callbacks(task, context, outcome.state, error, log)
    log.info(f"{ti!r} ended {outcome.state.value}")
    return outcome


def run_ended_try_callbacks(
    dag: DAG,
    attempt: Attempt,
    ended: TaskState,
    reason: str,
    *,
    xcom_store: XComStore,
    log: TaskLog,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    run_states: RunStateReader | None = None,
) -> list[str]:
    """Run the callbacks of a try that ended without its task code (the scheduler recorded it
    ``ended``: ``up_for_retry`` runs ``on_retry_callback``, ``failed`` ``on_failure_callback``), as
    Airflow runs them for a zombie or a task stuck in queued. Their context is built as for the try
    itself; its ``exception`` is a :class:`~dagflow.exceptions.TaskLost` saying why. Their output and
    errors go to ``log``; returns the errors (a callback's failure changes no state)."""
    task = dag.task_dict[attempt.task_id]
    now = utcnow()
    ti = task_instance_for(task, attempt, xcom_store, start_date or end_date or now, run_states=run_states)
    ti.state, ti.end_date = ended.value, end_date or now
    log.info(f"Running the {_CALLBACKS.get(ended, 'callbacks')} of {ti!r}, ended {ended.value}: {reason}")
    with capture(log):
        try:
            context = _context_for(dag, task, ti, attempt.dag_run)
        except Exception as exc:  # (its params no longer validate): nothing to call them with
            log.error("Could not build the callbacks' context", exc)
            return [f"context: {exc}"]
        return _run_callbacks(task, context, ended, TaskLost(reason), log)


class TryFields(Protocol):
    """What a task instance takes from a try to run (:class:`Attempt`, or a compensation's)."""

    @property
    def map_index(self) -> int: ...
    @property
    def try_number(self) -> int: ...
    @property
    def max_tries(self) -> int: ...
    @property
    def dag_run(self) -> DagRunInfo: ...


def task_instance_for(
    task: TaskNode, attempt: TryFields, xcom_store: XComStore, start: datetime, **more: Any
) -> RuntimeTaskInstance:
    """The task instance a try's code (or its callbacks, or a compensation) sees; ``more``: its
    other fields."""
    return RuntimeTaskInstance(
        task=task,
        dag_run=attempt.dag_run,
        map_index=attempt.map_index,
        try_number=attempt.try_number,
        max_tries=attempt.max_tries,
        xcom_store=xcom_store,
        start_date=start,
        first_try_start=getattr(attempt, "first_try_start", None),
        **more,
    )


def _push_plugin_links(ti: RuntimeTaskInstance) -> None:
    """The links plugins add to this operator (``operator_extra_links``, ``global_operator_extra_links``),
    kept as ``_link_<name>`` XComs like the operator's own."""
    from dagflow.models.links import LINK_PREFIX, plugin_links

    for name, url in plugin_links(ti.task, ti).items():
        ti.xcom_push(LINK_PREFIX + name, url)


def _context_for(dag: DAG, task: TaskNode, ti: RuntimeTaskInstance, dag_run: DagRunInfo) -> Context:
    params = _task_params(task).with_values(dag_run.conf).validate()
    return build_context(dag=dag, task=task, ti=ti, dag_run=dag_run, params=params)


def _task_params(task: TaskNode) -> Any:
    from dagflow.models.param import ParamsDict

    merged = task.dag.params.copy() if task.dag is not None else ParamsDict()
    partial_kwargs = getattr(task, "partial_kwargs", None)
    own = partial_kwargs.get("params") if partial_kwargs is not None else task._own_params  # type: ignore[attr-defined]
    merged.update(own or {})
    return merged


def _render_map_index(dag: DAG, ti: RuntimeTaskInstance, context: Context, log: TaskLog) -> str | None:
    """A mapped task instance's label: its task's ``map_index_template`` rendered with the context as
    the task left it (a task may set what the template reads, ``context["label"] = ...``), whether it
    succeeded or not, as Airflow does; None for an unmapped one, without a template, or when the
    template fails (logged: the map index is shown instead)."""
    task = context.get("task")
    template = getattr(task, "map_index_template", None)
    if ti.map_index < 0 or not template:
        return None
    try:
        return str(template_env(dag).from_string(template).render(context))[:250]
    except Exception as exc:
        log.warning(f"map_index_template {template!r} could not be rendered: {type(exc).__name__}: {exc}")
        return None


def _run(
    dag: DAG,
    task: TaskNode,
    spec: TaskSpec,
    ti: RuntimeTaskInstance,
    context: Context,
    outcome: AttemptOutcome,
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
) -> None:
    resolved_ids: set[int] = set()
    if hasattr(task, "unmap"):  # a mapped operator
        operator = task.unmap(context, ti.map_index, resolved_ids)
    else:  # a task, possibly one index of an expanded task group
        operator = task.prepare_for_execution()  # type: ignore[attr-defined]
        operator.map_index = ti.map_index
    context["task"] = ti.task = operator
    context["expanded_ti_count"] = expanded_ti_count(task, context)
    rendered = render_template_fields(operator, context, template_env(dag), resolved_ids)
    outcome.rendered_fields = redact(rendered)  # as shown in the UI: secrets read while rendering masked
    try:
        result = _execute(operator, context, spec.execution_timeout)
    except DownstreamTasksSkipped as skip:
        outcome.skip_downstream = list(skip.task_ids)
        outcome.skip_map_index = skip.map_index
        if skip.map_index is None:
            return
        result = skip.result
    finally:
        push_extra_links(operator, ti)
    outcome.map_length = push_result(operator, spec, ti, result, max_map_length)


#: The XCom key prefix of an operator extra link: the task instance page shows these as links.
LINK_KEY_PREFIX = "_link_"


def push_extra_links(operator: BaseOperator, ti: RuntimeTaskInstance) -> None:
    """Push each of the operator's extra links (``operator_extra_links``: objects with a ``name`` and
    ``get_link(operator, *, ti_key)``) as XCom ``_link_<name>``, computed once the try has run, as
    Airflow 3 does, so the web UI needs no DAG file to show them. A link that fails is left out."""
    for link in getattr(operator, "operator_extra_links", ()) or ():
        try:
            url = link.get_link(operator, ti_key=ti)
        except Exception as exc:  # a link never changes the task's outcome
            operator.log.warning("Extra link %r could not be built: %s", getattr(link, "name", link), exc)
            continue
        if url:
            ti.xcom_push(f"{LINK_KEY_PREFIX}{link.name}", url)


def _execute(operator: BaseOperator, context: Context, timeout: float | None) -> Any:
    if operator._pre_execute_hook is not None:
        operator._pre_execute_hook(context)
    operator.pre_execute(context)
    for callback in operator.on_execute_callback:
        callback(context)
    try:
        with time_limit(
            timeout, lambda: TaskTimeout(f"the try exceeded its execution_timeout of {timeout:g}s")
        ):
            result = operator.execute(context)
    except (TaskTimeout, TaskTerminated):
        operator.on_kill()
        raise
    if operator._post_execute_hook is not None:
        operator._post_execute_hook(context, result)
    operator.post_execute(context, result)
    return result


def is_mappable_value(value: Any) -> bool:
    return isinstance(value, (Sequence, Mapping)) and not isinstance(value, (str, bytes, bytearray))


def push_result(
    operator: BaseOperator,
    spec: TaskSpec,
    ti: RuntimeTaskInstance,
    result: Any,
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
) -> int | None:
    """Push the return value as XCom(s); return its length when mapped tasks will map over it.

    As in Airflow, an output longer than ``max_map_length`` that a mapped task maps over fails the
    task that returned it, before anything is pushed.
    """
    value = result if operator.do_xcom_push else None
    feeds_mapping = spec.has_mapped_dependants and ti.map_index < 0
    where = f"task {ti.task_id!r} of DAG {ti.dag_id!r}"
    if value is None:
        if feeds_mapping:
            raise XComValueError(
                f"{where} returned nothing, but a mapped task maps over its output; return a list or a dict"
            )
        return None
    length = None
    if feeds_mapping:
        if not is_mappable_value(value):
            raise XComValueError(
                f"{where} returned a {type(value).__name__}, but a mapped task maps over its output; "
                "return a list or a dict"
            )
        length = len(value)
        if length > max_map_length:
            raise XComValueError(
                f"{where} returned {length} items for a mapped task to map over, more than "
                f"[core] max_map_length ({max_map_length}); return fewer or raise max_map_length"
            )
    if operator.multiple_outputs:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise XComValueError(f"{where} has multiple_outputs=True, so it must return a dict with str keys")
        for key, item in value.items():
            ti.xcom_push(key, item)
    ti.xcom_push(RETURN_KEY, value)
    return length


def _failed_state(exc: BaseException, ti: RuntimeTaskInstance) -> TaskState:
    if isinstance(exc, SkipTask):
        return TaskState.SKIPPED
    if isinstance(exc, RescheduleTask):
        return TaskState.UP_FOR_RESCHEDULE
    if isinstance(exc, FailTask):
        return TaskState.FAILED
    if should_retry(try_number=ti.try_number, max_tries=ti.max_tries):
        return TaskState.UP_FOR_RETRY
    return TaskState.FAILED


def _policy_decides(
    policy: RetryPolicy, exc: BaseException, ti: RuntimeTaskInstance, context: Context, log: TaskLog
) -> tuple[TaskState, timedelta | None]:
    """A try that would be retried, as the task's retry policy has it: failed now, or retried (after
    the policy's delay, if it gave one)."""
    decision = ask(policy, exc, ti.try_number, ti.max_tries, context or None)
    if decision.reason:
        log.info(f"Retry policy: {decision.action.value} ({decision.reason})")
    if decision.action is RetryAction.FAIL:
        return TaskState.FAILED, None
    if decision.action is RetryAction.RETRY:
        return TaskState.UP_FOR_RETRY, decision.retry_delay
    return TaskState.UP_FOR_RETRY, None


def _log_failure(log: TaskLog, exc: BaseException, state: TaskState) -> None:
    if state is TaskState.SKIPPED:
        log.info(f"Skipping: {exc}" if str(exc) else "Skipping")
    elif state is TaskState.UP_FOR_RESCHEDULE:
        log.info(f"Rescheduling: {exc}")
    else:
        log.error(f"Task failed ({state.value})", exc)


_CALLBACKS = {
    TaskState.SUCCESS: "on_success_callback",
    TaskState.FAILED: "on_failure_callback",
    TaskState.UP_FOR_RETRY: "on_retry_callback",
    TaskState.SKIPPED: "on_skipped_callback",
}


def _run_callbacks(
    task: TaskNode, context: Context, state: TaskState, error: BaseException | None, log: TaskLog
) -> list[str]:
    """Run the task's callbacks for ``state``; return the errors of those that failed."""
    name = _CALLBACKS.get(state)
    callbacks = getattr(task, name, None) if name else None
    if not callbacks or not context:
        return []
    context["exception"] = error
    errors = []
    for callback in callbacks:
        try:
            callback(context)
        except Exception as exc:  # a callback's failure is logged, never changes the task's state
            label = getattr(callback, "__name__", callback)
            log.error(f"{name} {label!r} failed", exc)
            errors.append(f"{label}: {exc}")
    return errors
