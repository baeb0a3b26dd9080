"""Operators that call a Python function: PythonOperator, BranchPythonOperator, ShortCircuitOperator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError, DagflowError
from dagflow.models.baseoperator import BaseOperator
from dagflow.operators.branch import SKIPMIXIN_KEY, raise_skips, skip_all_except

if TYPE_CHECKING:
    from dagflow.context import Context


@functools.lru_cache(maxsize=1024)
def _signature(function: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(function)


def callable_kwargs(
    function: Callable[..., Any], args: Collection[Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments a callable receives: the context names it declares, or all with ``**kwargs``.

    A positional argument whose parameter name is also a context name is an error, since the two
    would collide.
    """
    try:
        signature = _signature(function)
    except TypeError:  # unhashable callable: not cached
        signature = inspect.signature(function)
    parameters = signature.parameters
    positional = [n for n, p in parameters.items() if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]
    for name in positional[: len(args)]:
        if name in context:
            raise DagflowError(
                f"the parameter {name!r} of {getattr(function, '__name__', function)!r} receives a "
                "positional argument but is also a context name; rename the parameter"
            )
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return dict(context)
    return {name: context[name] for name in parameters if name in context}


class PythonOperator(BaseOperator):
    """Calls ``python_callable(*op_args, **op_kwargs)``; its return value becomes the task's XCom.

    The callable also receives the context names it declares as parameters (``ti``, ``ds``,
    ``params``...) or the whole context if it takes ``**kwargs``.
    """

    template_fields = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: list[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(
                f"{type(self).__name__}(task_id={self.task_id!r}): python_callable must be callable"
            )
        self.python_callable = python_callable
        self.op_args = op_args or ()
        self.op_kwargs = op_kwargs or {}
        self.templates_dict = templates_dict
        if templates_exts:
            self.template_ext = tuple(templates_exts)  # type: ignore[misc]
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: Context) -> Any:
        context.update(self.op_kwargs)
        context["templates_dict"] = self.templates_dict
        kwargs = callable_kwargs(self.python_callable, self.op_args, context)
        result = self.python_callable(*self.op_args, **kwargs)
        if self.show_return_value_in_logs:
            self.log.info("Done. Returned value was: %s", result)
        return result


class BranchPythonOperator(PythonOperator):
    """The callable returns the task id(s) (or task group id(s)) to follow; other direct downstreams skip.

    Returning None skips every direct downstream task.
    """

    def execute(self, context: Context) -> Any:
        choice = PythonOperator.execute(self, context)
        self.log.info("Branch into %s", choice)
        skip_all_except(self, context, choice)
        return choice


class ShortCircuitOperator(PythonOperator):
    """Continues when the callable returns something truthy; otherwise skips downstream tasks.

    With ``ignore_downstream_trigger_rules=True`` (the default) every task downstream is skipped;
    with False only the direct downstream tasks are, and trigger rules decide the rest.
    """

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Context) -> Any:
        condition = super().execute(context)
        if condition or not self.downstream_task_ids:
            return condition
        tasks: Iterable[Any] = (
            self.get_flat_relatives(upstream=False)
            if self.ignore_downstream_trigger_rules
            else self.get_direct_relatives(upstream=False)
        )
        to_skip = [t.task_id for t in tasks if not t.is_teardown]
        self.log.info("Condition is falsy: skipping %s", to_skip)
        if to_skip:
            context["ti"].xcom_push(SKIPMIXIN_KEY, {"skipped": to_skip})
            if context["ti"].map_index >= 0:  # one index decides for its direct downstream only
                to_skip = [t for t in to_skip if t in self.downstream_task_ids]
            raise_skips(self, context, to_skip, condition)
        return condition  # pushed as Airflow does when nothing was skipped (only teardowns downstream)


_IN_OTHER_INTERPRETERS = frozenset(
    {
        "PythonVirtualenvOperator",
        "ExternalPythonOperator",
        "BranchPythonVirtualenvOperator",
        "BranchExternalPythonOperator",
    }
)


def __getattr__(name: str) -> Any:
    """The operators that run the function in another interpreter live in their own module (which
    builds on this one); they are importable from here too, as from Airflow's ``operators.python``."""
    if name in _IN_OTHER_INTERPRETERS:
        from dagflow.operators import python_virtualenv

        return getattr(python_virtualenv, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_IN_OTHER_INTERPRETERS])
