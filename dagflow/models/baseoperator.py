"""BaseOperator: the arguments every task takes, ``default_args``, and registration in a DAG.

``default_args`` are applied as Airflow applies them: each ``__init__`` in an operator's class
hierarchy is wrapped, and any parameter the call did not pass explicitly is taken from the merged
defaults (task ``default_args`` over task group ``default_args`` over DAG ``default_args``).
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.core.trigger_rules import TriggerRule
from dagflow.exceptions import DagDefinitionError
from dagflow.models import context_stack
from dagflow.models.airflow_args import warn_ignored
from dagflow.models.compensation import as_compensation
from dagflow.models.node import TaskNode
from dagflow.models.retry_policy import RetryPolicy, as_retry_policy
from dagflow.models.xcom_arg import XComArg, set_dependencies_from_arguments
from dagflow.runtime.tasklog import TASK_LOGGER

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.dag import DAG
    from dagflow.models.mappedoperator import OperatorPartial
    from dagflow.models.taskgroup import TaskGroup

KEY_PATTERN = re.compile(r"^[\w.-]+$")
MAX_KEY_LENGTH = 250
DEFAULT_POOL = "default_pool"
Callbacks = Callable[..., Any] | Sequence[Callable[..., Any]] | None


def validate_key(kind: str, key: object, where: str = "") -> str:
    """Check a DAG or task id: letters, digits, ``_``, ``-`` and ``.``, at most 250 characters."""
    prefix = f"{where}: " if where else ""
    if not isinstance(key, str):
        raise DagDefinitionError(f"{prefix}{kind} must be a string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise DagDefinitionError(f"{prefix}{kind} {key!r} is longer than {MAX_KEY_LENGTH} characters")
    if not KEY_PATTERN.match(key):
        raise DagDefinitionError(
            f"{prefix}{kind} {key!r} may only contain letters, digits, dots, dashes and underscores"
        )
    return key


def as_timedelta(value: Any, name: str, where: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise DagDefinitionError(f"{where}: {name} must be a timedelta or a number of seconds, got {value!r}")


def as_callbacks(value: Callbacks, name: str, where: str) -> list[Callable[..., Any]]:
    if value is None:
        return []
    items: list[Callable[..., Any]] = list(value) if isinstance(value, (list, tuple)) else [value]  # type: ignore[list-item]
    for item in items:
        if not callable(item):
            raise DagDefinitionError(f"{where}: {name} must be callable (or a list of callables)")
    return items


_ACCEPTED: dict[type, frozenset[str]] = {}


def accepted_parameters(cls: type) -> frozenset[str]:
    """Every keyword any ``__init__`` in ``cls``'s hierarchy accepts, for ``default_args``."""
    found = _ACCEPTED.get(cls)
    if found is None:
        found = _ACCEPTED[cls] = _init_parameters(cls)
    return found


def _init_parameters(cls: type) -> frozenset[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        init = getattr(init, "__wrapped__", init)
        for name, param in inspect.signature(init).parameters.items():
            if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL) and name != "self":
                names.add(name)
    return frozenset(names)


def merged_default_args(
    dag: DAG | None, group: TaskGroup | None, own: dict[str, Any] | None
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if dag is not None:
        merged.update(dag.default_args)
    if group is not None:
        merged.update(group.merged_default_args())
    if own:
        merged.update(own)
    return merged


def _apply_default_args(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    dag = kwargs.get("dag") or (None if context_stack.is_unmapping() else context_stack.current_dag())
    group = kwargs.get("task_group") or context_stack.current_group(dag)
    defaults = merged_default_args(dag, group, kwargs.pop("default_args", None))
    if not defaults:
        return kwargs
    accepted = accepted_parameters(cls)
    for name, value in defaults.items():
        if name in accepted and name not in kwargs:
            kwargs[name] = value
    return kwargs


def _missing_arguments_error(cls: type, init: Callable[..., Any], kwargs: dict[str, Any]) -> Exception | None:
    """A readable error when a call to an operator misses or misnames arguments, else None."""
    try:
        inspect.signature(init).bind(None, **kwargs)
    except TypeError as exc:
        task = kwargs.get("task_id", "?")
        return DagDefinitionError(f"{cls.__name__}(task_id={task!r}): {exc}")
    return None


def _wrap_init(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if self.__dict__.get("_init_started"):  # a super().__init__ call: defaults already applied
            init(self, *args, **kwargs)
            return
        cls = type(self)
        if args:
            raise DagDefinitionError(f"{cls.__name__}: pass operator arguments by keyword")
        self.__dict__["_init_started"] = True
        kwargs = _apply_default_args(cls, kwargs)
        try:
            init(self, **kwargs)
        except TypeError as exc:
            explained = _missing_arguments_error(cls, init, kwargs)
            if explained is None:
                raise
            raise explained from exc
        self._after_init()

    wrapper._dagflow_wrapped = True  # type: ignore[attr-defined]
    return wrapper


class BaseOperator(TaskNode):
    """The base of every operator. Subclasses implement :meth:`execute`."""

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: ClassVar[str] = "#fff"
    #: Operators that do nothing may be marked successful without running (EmptyOperator).
    inherits_from_empty_operator: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_dagflow_wrapped", False):
            cls.__init__ = _wrap_init(init)  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = "dagflow",
        email: str | Sequence[str] | None = None,
        email_on_retry: bool = True,
        email_on_failure: bool = True,
        retries: int | None = 0,
        retry_delay: timedelta | float = timedelta(seconds=300),
        retry_exponential_backoff: bool | float = False,
        max_retry_delay: timedelta | float | None = None,
        retry_policy: RetryPolicy | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        depends_on_past: bool = False,
        ignore_first_depends_on_past: bool = True,
        wait_for_past_depends_before_skipping: bool = False,
        wait_for_downstream: bool = False,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
        params: dict[str, Any] | None = None,
        priority_weight: int = 1,
        weight_rule: Any = "downstream",
        queue: str = "default",
        pool: str | None = None,
        pool_slots: int = 1,
        execution_timeout: timedelta | float | None = None,
        on_execute_callback: Callbacks = None,
        on_failure_callback: Callbacks = None,
        on_success_callback: Callbacks = None,
        on_retry_callback: Callbacks = None,
        on_skipped_callback: Callbacks = None,
        pre_execute: Callable[..., Any] | None = None,
        post_execute: Callable[..., Any] | None = None,
        trigger_rule: str = TriggerRule.ALL_SUCCESS,
        resources: Any = None,
        run_as_user: str | None = None,
        map_index_template: str | None = None,
        max_active_tis_per_dag: int | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor: str | None = None,
        executor_config: dict[str, Any] | None = None,
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        inlets: Any = None,
        outlets: Any = None,
        doc: str | None = None,
        doc_md: str | None = None,
        doc_json: str | None = None,
        doc_yaml: str | None = None,
        doc_rst: str | None = None,
        task_display_name: str | None = None,
        logger_name: str | None = None,
        allow_nested_operators: bool = True,
        compensate: Any = None,
        compensation_retries: int | None = None,
        compensation_retry_delay: timedelta | float | None = None,
        compensation_timeout: timedelta | float | None = None,
        sla: Any = None,
        **kwargs: Any,
    ) -> None:
        where = f"{type(self).__name__}(task_id={task_id!r})"
        if sla is not None:
            warn_ignored(where, "sla", "Airflow 3 removed SLAs and dagflow has none; use execution_timeout")
        if kwargs:
            raise DagDefinitionError(
                f"{where}: unknown argument(s) {', '.join(sorted(kwargs))}; check the spelling against "
                f"the {type(self).__name__} documentation"
            )
        self.owner, self.email = owner, email
        self.email_on_retry, self.email_on_failure = email_on_retry, email_on_failure
        self.retries = _as_retries(retries, where)
        self.retry_delay = as_timedelta(retry_delay, "retry_delay", where) or timedelta(0)
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = as_timedelta(max_retry_delay, "max_retry_delay", where)
        self.retry_policy = as_retry_policy(retry_policy, where)
        self.execution_timeout = as_timedelta(execution_timeout, "execution_timeout", where)
        self.start_date, self.end_date = start_date, end_date
        self.depends_on_past = depends_on_past or wait_for_downstream
        self.ignore_first_depends_on_past = ignore_first_depends_on_past
        self.wait_for_past_depends_before_skipping = wait_for_past_depends_before_skipping
        self.wait_for_downstream = wait_for_downstream
        self.priority_weight = _as_int(priority_weight, "priority_weight", where)
        self.weight_rule = _as_weight_rule(weight_rule, where)
        self.queue = queue
        self.pool = pool or DEFAULT_POOL
        self.pool_slots = _as_int(pool_slots, "pool_slots", where)
        if self.pool_slots < 1:
            raise DagDefinitionError(f"{where}: pool_slots must be at least 1, got {pool_slots}")
        self.on_execute_callback = as_callbacks(on_execute_callback, "on_execute_callback", where)
        self.on_failure_callback = as_callbacks(on_failure_callback, "on_failure_callback", where)
        self.on_success_callback = as_callbacks(on_success_callback, "on_success_callback", where)
        self.on_retry_callback = as_callbacks(on_retry_callback, "on_retry_callback", where)
        self.on_skipped_callback = as_callbacks(on_skipped_callback, "on_skipped_callback", where)
        self._pre_execute_hook, self._post_execute_hook = pre_execute, post_execute
        self.trigger_rule = TriggerRule.parse(trigger_rule, where=where)
        self.resources, self.run_as_user = resources, run_as_user
        self.map_index_template = map_index_template
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.max_active_tis_per_dagrun = max_active_tis_per_dagrun
        self.executor, self.executor_config = executor, executor_config or {}
        self.do_xcom_push, self.multiple_outputs = do_xcom_push, multiple_outputs
        self.inlets = _as_list(inlets)
        self.outlets = _as_list(outlets)
        self.doc, self.doc_md, self.doc_json, self.doc_yaml, self.doc_rst = (
            doc,
            doc_md,
            doc_json,
            doc_yaml,
            doc_rst,
        )
        self.task_display_name, self.logger_name = task_display_name, logger_name
        self.allow_nested_operators = allow_nested_operators
        self.compensation = as_compensation(
            compensate,
            where=f"{where} of DAG {_dag_id(dag)!r}",
            retries=compensation_retries,
            retry_delay=compensation_retry_delay,
            timeout=compensation_timeout,
        )
        self.is_setup = self.is_teardown = self.on_failure_fail_dagrun = False
        self.upstream_task_ids, self.downstream_task_ids = set(), set()
        self.map_index = -1
        self._own_params = dict(params or {})
        self._join_dag(task_id, dag, task_group)

    def _join_dag(self, task_id: str, dag: DAG | None, task_group: TaskGroup | None) -> None:
        """Prefix the id with the task group's and add the task to its DAG (unless it is being unmapped)."""
        self.dag, self.task_group = None, None
        if context_stack.is_unmapping():
            self.task_id = task_id
            self.dag, self.task_group = dag, task_group
            return
        dag = dag or context_stack.current_dag()
        group = task_group or context_stack.current_group(dag) or (dag.task_group if dag else None)
        self.task_id = validate_key(
            "task_id", group.child_id(task_id) if group else task_id, f"{type(self).__name__}"
        )
        if dag is not None:
            dag.add_task(self, group)

    def _after_init(self) -> None:
        """Runs once the outermost ``__init__`` has returned: outputs used as arguments become edges."""
        if self.dag is not None and not context_stack.is_unmapping():
            set_dependencies_from_arguments(self, list(self.iter_template_values()))

    def iter_template_values(self) -> list[Any]:
        return [getattr(self, name, None) for name in self.template_fields]

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"

    # -- what users read ----------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        """The DAG's params updated with this task's own."""
        merged = dict(self.dag.params) if self.dag is not None else {}
        merged.update(self._own_params)
        return merged

    @property
    def output(self) -> XComArg:
        """This task's return value, to pass to another task."""
        return XComArg(self)

    @property
    def operator_name(self) -> str:
        return type(self).__name__

    @property
    def log(self) -> logging.Logger:
        """The task's logger: what it logs goes to the try's log."""
        return logging.getLogger(f"{TASK_LOGGER}.{type(self).__name__}")

    # -- running ------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Do the task's work; the return value is pushed as the ``return_value`` XCom."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")

    def pre_execute(self, context: Context) -> None:
        """Called right before :meth:`execute`."""

    def post_execute(self, context: Context, result: Any = None) -> None:
        """Called right after :meth:`execute` returned."""

    def on_kill(self) -> None:
        """Called when the try is stopped (timeout, kill): release what :meth:`execute` started."""

    def prepare_for_execution(self) -> BaseOperator:
        """A shallow copy to render templates into, so the DAG's own task keeps its templates."""
        return copy.copy(self)

    # -- templates ------------------------------------------------------------------------------

    def get_template_env(self, dag: DAG | None = None) -> Any:
        """The Jinja environment this task's templates render in: its DAG's (macros, filters, search
        path, native rendering), or a plain sandboxed one for a task outside any DAG."""
        from dagflow.templating import default_env, template_env

        dag = dag or self.dag
        return template_env(dag) if dag is not None else default_env()

    def render_template(
        self, content: Any, context: Context, jinja_env: Any = None, seen_oids: set[int] | None = None
    ) -> Any:
        """``content`` rendered against ``context`` as a template field would be: a string (or a file
        named with one of ``template_ext``), or each item of a list, tuple, set or dict."""
        from dagflow.templating import Renderer

        env = jinja_env or self.get_template_env()
        return Renderer(context, env, tuple(self.template_ext), seen_oids).render(content)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render every one of ``template_fields`` in place (the runner does this before ``execute``)."""
        from dagflow.templating import render_template_fields

        render_template_fields(self, context, jinja_env or self.get_template_env())

    # -- dynamic task mapping -------------------------------------------------------------------

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """Fix the arguments shared by every map index; call ``.expand(...)`` on the result."""
        from dagflow.models.mappedoperator import OperatorPartial

        return OperatorPartial(cls, kwargs)


def _dag_id(dag: DAG | None) -> str:
    dag = dag or context_stack.current_dag()
    return dag.dag_id if dag is not None else "?"


def _as_retries(value: Any, where: str) -> int:
    if value is None:
        return 0
    try:
        retries = int(value)
    except (TypeError, ValueError):
        raise DagDefinitionError(f"{where}: retries must be an integer, got {value!r}") from None
    if retries < 0:
        raise DagDefinitionError(f"{where}: retries must not be negative, got {retries}")
    return retries


def _as_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DagDefinitionError(f"{where}: {name} must be an integer, got {value!r}")
    return value


WEIGHT_RULES = ("downstream", "upstream", "absolute")


def _as_weight_rule(value: Any, where: str) -> Any:
    """A built-in rule's name, or a priority-weight strategy registered by a plugin."""
    from dagflow.models.priority_strategy import load_weight_rule

    return load_weight_rule(value, where)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


BaseOperator.__init__ = _wrap_init(BaseOperator.__init__)  # type: ignore[method-assign]
