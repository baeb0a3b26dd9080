"""TaskFlow: ``@task``, ``@task.branch``, ``@task.short_circuit``, ``@task.sensor``, ``@task.bash``,
``@setup``, ``@teardown``, ``@task_group`` and ``@dag``.

Calling a ``@task`` function inside a DAG creates a task and returns a reference to its output;
passing that reference to another task makes the edge. Calling the same function twice gives the
second task the id ``name__1``, the third ``name__2``, and so on.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from dagflow.exceptions import DagDefinitionError, DagflowError, SkipTask
from dagflow.models import context_stack
from dagflow.models.baseoperator import BaseOperator, merged_default_args
from dagflow.models.compensation import Compensation
from dagflow.models.dag import DAG
from dagflow.models.mappedoperator import (
    DictOfListsExpandInput,
    ListOfDictsExpandInput,
    MappedOperator,
    check_expand_kwargs_value,
    check_expand_values,
)
from dagflow.models.mappedtaskgroup import TaskGroupPartial
from dagflow.models.taskgroup import TaskGroup
from dagflow.models.xcom_arg import XComArg
from dagflow.operators.bash import SCRIPT_EXTENSIONS, BashOperator
from dagflow.operators.branch import skip_all_except
from dagflow.operators.python import PythonOperator, ShortCircuitOperator, callable_kwargs
from dagflow.sensors.python import DecoratedSensorOperator
from dagflow.templating import Renderer, template_env

#: Names a task function may declare to receive from the context rather than from its caller.
CONTEXT_KEYS = frozenset(
    {
        "dag",
        "task",
        "ti",
        "task_instance",
        "run_id",
        "dag_run",
        "params",
        "macros",
        "ds",
        "ds_nodash",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "inlets",
        "outlets",
        "map_index_template",
        "task_instance_key_str",
        "templates_dict",
        "exception",
        "expanded_ti_count",
    }
)


class _DecoratedPythonOperator(PythonOperator):
    """The operator behind a ``@task`` function."""

    custom_operator_name = "@task"

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name


class _DecoratedBranchOperator(_DecoratedPythonOperator):
    custom_operator_name = "@task.branch"

    def execute(self, context: Any) -> Any:
        choice = super().execute(context)
        skip_all_except(self, context, choice)
        return choice


class _DecoratedShortCircuitOperator(ShortCircuitOperator):
    custom_operator_name = "@task.short_circuit"

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name


class _DecoratedBashOperator(BashOperator):
    """The operator behind a ``@task.bash`` function: the function returns the command to run, which
    is then rendered with Jinja like a ``bash_command`` (a ``.sh`` path included) and run as the
    BashOperator runs it; its last line of output is the XCom."""

    custom_operator_name = "@task.bash"
    template_fields: ClassVar[Sequence[str]] = ("op_args", "op_kwargs", "bash_command", "env", "cwd")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Any = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bash_command="(returned by the task's function when it runs)", **kwargs)
        self.python_callable = python_callable
        self.op_args = op_args or ()
        self.op_kwargs = op_kwargs or {}

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name

    def execute(self, context: Any) -> Any:
        context.update(self.op_kwargs)
        command = self.python_callable(
            *self.op_args, **callable_kwargs(self.python_callable, self.op_args, context)
        )
        if not isinstance(command, str) or not command.strip():
            raise DagflowError(
                f"task {self.task_id!r}: a @task.bash function must return the command to run, a "
                f"non-empty string; it returned {command!r}"
            )
        self._is_script = command.endswith(SCRIPT_EXTENSIONS)
        renderer = Renderer(context, template_env(context["dag"]), tuple(self.template_ext))
        self.bash_command = renderer.render_string(command)
        return super().execute(context)


def _infer_multiple_outputs(function: Callable[..., Any]) -> bool:
    """True when the function is annotated to return a mapping (``-> dict[str, int]``)."""
    try:
        returns = typing.get_type_hints(function).get("return", Any)
    except Exception:  # unresolvable annotations: no inference
        return False
    origin = getattr(returns, "__origin__", returns)
    return isinstance(origin, type) and issubclass(origin, Mapping)


def unique_task_id(label: str, dag: DAG | None, group: TaskGroup | None) -> str:
    """``label``, or ``label__N`` with N one more than the highest suffix already used in the DAG."""
    if dag is None:
        return label
    full = group.child_id(label) if group is not None else label
    if full not in dag.task_dict:
        return label
    base_full = re.split(r"__\d+$", full)[0]
    pattern = re.compile(rf"^{re.escape(base_full)}__(\d+)$")
    suffixes = [int(m.group(1)) for task_id in dag.task_dict if (m := pattern.match(task_id))]
    base_label = re.split(r"__\d+$", label)[0]
    return f"{base_label}__{max(suffixes, default=0) + 1}"


class TaskDecorator:
    """A ``@task`` function: call it to add a task; ``.expand()`` to map it; ``.override()`` to change it."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type[BaseOperator] = _DecoratedPythonOperator,
        kwargs: dict[str, Any] | None = None,
    ):
        if not callable(function):
            raise DagDefinitionError(f"@task decorates a function, got {function!r}")
        self.function = function
        #: Computed once: a DAG may call the same task function many times.
        self._signature = inspect.signature(function)
        self.operator_class = operator_class
        self.kwargs = dict(kwargs or {})
        if self.kwargs.get("multiple_outputs") is None:
            self.kwargs["multiple_outputs"] = _infer_multiple_outputs(function)
        functools.update_wrapper(self, function)
        self._check_parameters()

    def _check_parameters(self) -> None:
        parameters = self._signature.parameters
        if "self" in parameters:
            raise DagDefinitionError(f"@task {self.function.__name__!r}: methods cannot be tasks")
        for name, param in parameters.items():
            if name in CONTEXT_KEYS and param.default not in (inspect.Parameter.empty, None):
                raise DagDefinitionError(
                    f"@task {self.function.__name__!r}: parameter {name!r} is a context name, so its "
                    "default can only be None"
                )

    @property
    def _label(self) -> str:
        return str(self.kwargs.get("task_id") or self.function.__name__)

    def _bind_check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        signature = self._signature
        parameters = [
            p.replace(default=None) if p.name in CONTEXT_KEYS and p.default is inspect.Parameter.empty else p
            for p in signature.parameters.values()
        ]
        try:
            signature.replace(parameters=parameters).bind(*args, **kwargs)
        except TypeError as exc:
            raise DagDefinitionError(
                f"task {self._label!r}: called with the wrong arguments: {exc}"
            ) from None

    def _placement(self) -> tuple[DAG | None, TaskGroup | None]:
        dag = self.kwargs.get("dag") or context_stack.current_dag()
        group = self.kwargs.get("task_group") or context_stack.current_group(dag)
        return dag, group or (dag.task_group if dag else None)

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        dag, group = self._placement()
        kwargs = self._with_default_args(dag, group, args, kwargs)
        self._bind_check(args, kwargs)
        options = {
            k: v
            for k, v in self.kwargs.items()
            if k not in ("task_id", "is_setup", "is_teardown", "on_failure_fail_dagrun")
        }
        operator = self.operator_class(
            task_id=unique_task_id(self._label, dag, group),
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
            **self._doc_kwargs(),
            **options,
        )
        self._mark_setup_teardown(operator)
        return XComArg(operator)

    def _with_default_args(
        self, dag: DAG | None, group: TaskGroup | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """``kwargs`` plus the ``default_args`` named like a function parameter the call left out.

        Airflow fills these in (``DecoratedOperator._hook_apply_defaults``), so a DAG-wide
        ``default_args={"region": "eu"}`` feeds every ``@task`` with a ``region`` parameter.
        """
        defaults = merged_default_args(dag, group, self.kwargs.get("default_args"))
        if not defaults:
            return kwargs
        parameters = [
            p for p in self._signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        positional = {p.name for p in parameters[: len(args)] if p.kind is not p.KEYWORD_ONLY}
        filled = {
            p.name: defaults[p.name]
            for p in parameters
            if p.name in defaults and p.name not in kwargs and p.name not in positional
        }
        return {**kwargs, **filled}

    def _doc_kwargs(self) -> dict[str, Any]:
        if self.function.__doc__ and not any(k.startswith("doc") for k in self.kwargs):
            return {"doc_md": inspect.cleandoc(self.function.__doc__)}
        return {}

    def _mark_setup_teardown(self, operator: Any) -> None:
        if self.kwargs.get("is_setup"):
            operator.as_setup()
        if self.kwargs.get("is_teardown"):
            operator.as_teardown(on_failure_fail_dagrun=self.kwargs.get("on_failure_fail_dagrun"))

    def compensation(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate the function that undoes this task when its run fails.

        It is called with the task's arguments (as the task received them), then its return value;
        it may also declare context names (``ti``, ``compensation``...) as keyword parameters.
        """
        if not callable(function):
            raise DagDefinitionError(f"@{self._label}.compensation decorates a function, got {function!r}")
        self.kwargs["compensate"] = Compensation(function, takes_forward_arguments=True)
        return function

    def override(self, **kwargs: Any) -> TaskDecorator:
        """The same function with other task arguments (``task_id``, ``retries``, ``trigger_rule``...)."""
        return TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> TaskDecoratorPartial:
        """Fix some arguments for every map index; then ``.expand(...)`` the others."""
        self._check_mapped_names(kwargs, "partial")
        return TaskDecoratorPartial(self, kwargs)

    def expand(self, **mapped: Any) -> XComArg:
        """One task instance per element (or combination of elements) of the mapped arguments."""
        return TaskDecoratorPartial(self, {}).expand(**mapped)

    def expand_kwargs(self, value: Any) -> XComArg:
        """One task instance per dict of keyword arguments."""
        return TaskDecoratorPartial(self, {}).expand_kwargs(value)

    def _check_mapped_names(self, names: Mapping[str, Any], verb: str) -> None:
        parameters = self._signature.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        for name in names:
            if name in CONTEXT_KEYS:
                raise DagDefinitionError(f"task {self._label!r}: cannot {verb}() the context name {name!r}")
            if name not in parameters and not takes_any:
                raise DagDefinitionError(
                    f"task {self._label!r}: {verb}() got an unexpected argument {name!r}"
                )


class TaskDecoratorPartial:
    """``my_task.partial(...)``: arguments shared by every map index."""

    def __init__(self, decorator: TaskDecorator, op_kwargs: dict[str, Any]):
        self.decorator = decorator
        self.op_kwargs = op_kwargs

    def _mapped(self, expand_input: DictOfListsExpandInput | ListOfDictsExpandInput) -> XComArg:
        decorator = self.decorator
        dag, group = decorator._placement()
        options = {
            k: v
            for k, v in decorator.kwargs.items()
            if k not in ("is_setup", "is_teardown", "on_failure_fail_dagrun")
        }
        options["task_id"] = unique_task_id(decorator._label, dag, group)
        from dagflow.models.baseoperator import _apply_default_args

        partial_kwargs = _apply_default_args(
            decorator.operator_class,
            {
                **options,
                **decorator._doc_kwargs(),
                "python_callable": decorator.function,
                "op_kwargs": self.op_kwargs,
            },
        )
        operator = MappedOperator(
            decorator.operator_class, partial_kwargs, expand_input, mapped_into="op_kwargs"
        )
        decorator._mark_setup_teardown(operator)
        return XComArg(operator)

    def expand(self, **mapped: Any) -> XComArg:
        where = f"task {self.decorator._label!r}"
        check_expand_values(where, mapped)
        self.decorator._check_mapped_names(mapped, "expand")
        return self._mapped(DictOfListsExpandInput(mapped))

    def expand_kwargs(self, value: Any) -> XComArg:
        check_expand_kwargs_value(f"task {self.decorator._label!r}", value)
        return self._mapped(ListOfDictsExpandInput(value))


def _make_task_decorator(operator_class: type[BaseOperator]) -> Callable[..., Any]:
    def decorator(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        if python_callable is not None:
            return TaskDecorator(python_callable, operator_class, kwargs)
        return lambda function: TaskDecorator(function, operator_class, kwargs)

    return decorator


#: The ``@task.<name>`` variants there are.
TASK_DECORATORS = (
    "python",
    "branch",
    "short_circuit",
    "bash",
    "sensor",
    "run_if",
    "skip_if",
    "virtualenv",
    "external_python",
    "branch_virtualenv",
    "branch_external_python",
)


class _TaskNamespace:
    """``@task``, and its variants ``@task.branch``, ``@task.short_circuit``, ``@task.python``,
    ``@task.sensor`` (a PythonSensor: the function is its poke, taking ``poke_interval``, ``mode``...),
    ``@task.bash`` (the function returns the command; ``env``, ``cwd``... as BashOperator's),
    ``@task.virtualenv`` / ``@task.external_python`` and their ``branch_`` forms (the function runs
    in another interpreter), and ``@task.run_if(condition)`` / ``@task.skip_if(condition)`` placed
    above another ``@task`` decorator."""

    def __init__(self) -> None:
        self._python = _make_task_decorator(_DecoratedPythonOperator)
        self.python = self._python
        self.branch = _make_task_decorator(_DecoratedBranchOperator)
        self.short_circuit = _make_task_decorator(_DecoratedShortCircuitOperator)
        self.bash = _make_task_decorator(_DecoratedBashOperator)
        self.sensor = _make_task_decorator(DecoratedSensorOperator)
        self.run_if = run_if
        self.skip_if = skip_if

    def __call__(self, python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        return self._python(python_callable, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """A decorator of another Airflow provider (``@task.docker``, ``@task.kubernetes``...) is
        named, with the ones there are, rather than left as a bare attribute error."""
        if name.startswith("_"):
            raise AttributeError(name)
        have = ", ".join(f"@task.{n}" for n in sorted(TASK_DECORATORS))
        raise AttributeError(
            f"@task.{name} is not supported by dagflow; it has @task, {have} "
            "(code that needs another interpreter can run with @task.virtualenv or @task.bash)"
        )

    # The variants that run the function in another interpreter import their module when first used.

    @property
    def virtualenv(self) -> Callable[..., Any]:
        from dagflow.operators.python_virtualenv import DecoratedVirtualenvOperator

        return _make_task_decorator(DecoratedVirtualenvOperator)

    @property
    def external_python(self) -> Callable[..., Any]:
        from dagflow.operators.python_virtualenv import DecoratedExternalPythonOperator

        return _make_task_decorator(DecoratedExternalPythonOperator)

    @property
    def branch_virtualenv(self) -> Callable[..., Any]:
        from dagflow.operators.python_virtualenv import DecoratedBranchVirtualenvOperator

        return _make_task_decorator(DecoratedBranchVirtualenvOperator)

    @property
    def branch_external_python(self) -> Callable[..., Any]:
        from dagflow.operators.python_virtualenv import DecoratedBranchExternalPythonOperator

        return _make_task_decorator(DecoratedBranchExternalPythonOperator)


def _conditional(
    condition: Callable[[Any], Any], skip_message: str | None, run_when: bool, name: str
) -> Callable[[TaskDecorator], TaskDecorator]:
    def decorate(decorated: Any) -> TaskDecorator:
        if not isinstance(decorated, TaskDecorator):
            raise DagDefinitionError(
                f"@task.{name} decorates a @task function: put it above @task, got {decorated!r}"
            )
        earlier = decorated.kwargs.get("pre_execute")

        def pre_execute(context: Any) -> None:
            if earlier is not None:
                earlier(context)
            if bool(condition(context)) is not run_when:
                raise SkipTask(skip_message or "Task was skipped due to condition.")

        return decorated.override(pre_execute=pre_execute)

    return decorate


def run_if(
    condition: Callable[[Any], Any], skip_message: str | None = None
) -> Callable[[TaskDecorator], TaskDecorator]:
    """``@task.run_if(lambda context: ...)``: the task runs only when the condition, called with the
    context just before it would run, is truthy; otherwise it is skipped."""
    return _conditional(condition, skip_message, True, "run_if")


def skip_if(
    condition: Callable[[Any], Any], skip_message: str | None = None
) -> Callable[[TaskDecorator], TaskDecorator]:
    """``@task.skip_if(lambda context: ...)``: the task is skipped when the condition is truthy."""
    return _conditional(condition, skip_message, False, "skip_if")


task = _TaskNamespace()


def setup(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """``@setup``: a task whose work the tasks in its scope depend on."""
    return task(python_callable, is_setup=True, **kwargs)


def teardown(
    python_callable: Callable[..., Any] | None = None, *, on_failure_fail_dagrun: bool = False, **kwargs: Any
) -> Any:
    """``@teardown``: runs once its setups' work is done, whatever happened; ignored for the run's state."""
    if "trigger_rule" in kwargs:
        raise DagDefinitionError("@teardown tasks always use the trigger rule all_done_setup_success")
    return task(python_callable, is_teardown=True, on_failure_fail_dagrun=on_failure_fail_dagrun, **kwargs)


class TaskGroupDecorator:
    """A ``@task_group`` function: each call creates a task group (``name``, ``name__1``...)."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any]):
        self.function = function
        self.kwargs = kwargs
        functools.update_wrapper(self, function)

    def override(self, **kwargs: Any) -> TaskGroupDecorator:
        return TaskGroupDecorator(self.function, {**self.kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> TaskGroupPartial:
        """Arguments every map index of an expanded group gets; then ``.expand(...)`` the others."""
        return TaskGroupPartial(self.function, dict(self.kwargs), kwargs)

    def expand(self, **mapped: Any) -> Any:
        """Run the group's tasks once per element (or combination) of the mapped arguments."""
        return self.partial().expand(**mapped)

    def expand_kwargs(self, value: Any) -> Any:
        """Run the group's tasks once per dict of keyword arguments."""
        return self.partial().expand_kwargs(value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        options = dict(self.kwargs)
        group_id = options.pop("group_id", None) or self.function.__name__
        if self.function.__doc__ and not options.get("tooltip"):
            options["tooltip"] = inspect.cleandoc(self.function.__doc__)
        with TaskGroup(group_id, add_suffix_on_collision=True, **options) as group:
            returned = self.function(*args, **kwargs)
        return group if returned is None else returned


def task_group(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Decorate a function that creates tasks: each call puts them in a new task group."""
    if python_callable is not None:
        return TaskGroupDecorator(python_callable, kwargs)
    return lambda function: TaskGroupDecorator(function, kwargs)


def dag(dag_id: Any = None, **dag_kwargs: Any) -> Any:
    """Decorate a function that creates tasks; calling it returns a DAG. Its arguments become params."""

    def wrap(function: Callable[..., Any]) -> Callable[..., DAG]:
        @functools.wraps(function)
        def factory(*args: Any, **kwargs: Any) -> DAG:
            bound = inspect.signature(function).bind(*args, **kwargs)
            bound.apply_defaults()
            options = dict(dag_kwargs)
            if function.__doc__ and "doc_md" not in options:
                options["doc_md"] = inspect.cleandoc(function.__doc__)
            with DAG(dag_id or function.__name__, **options) as new_dag:
                params = {name: new_dag.param(name, value) for name, value in bound.arguments.items()}
                function(**params)
            return new_dag

        return factory

    if callable(dag_id):
        function, dag_id = dag_id, None
        return wrap(function)
    return wrap
