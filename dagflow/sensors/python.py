"""PythonSensor: waits for a Python callable to return something truthy; and ``@task.sensor``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError
from dagflow.operators.python import callable_kwargs
from dagflow.sensors.base import BaseSensorOperator, PokeReturnValue

if TYPE_CHECKING:
    from dagflow.context import Context


class PythonSensor(BaseSensorOperator):
    """Pokes by calling ``python_callable(*op_args, **op_kwargs)`` until it returns something truthy.

    As with PythonOperator, the callable also receives the context names it declares (``ti``,
    ``ds``, ``templates_dict``...) or the whole context with ``**kwargs``; ``op_args``,
    ``op_kwargs`` and ``templates_dict`` are templated. Returning a
    :class:`~dagflow.sensors.PokeReturnValue` with an ``xcom_value`` pushes that value when done;
    a plain truthy value pushes nothing.
    """

    template_fields = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(f"{self._where()}: python_callable must be callable")
        self.python_callable = python_callable
        self.op_args = op_args or ()
        self.op_kwargs = op_kwargs or {}
        self.templates_dict = templates_dict

    def poke(self, context: Context) -> PokeReturnValue:
        context.update(self.op_kwargs)
        context["templates_dict"] = self.templates_dict
        kwargs = callable_kwargs(self.python_callable, self.op_args, context)
        self.log.info("Poking callable: %s", getattr(self.python_callable, "__name__", self.python_callable))
        value = self.python_callable(*self.op_args, **kwargs)
        return value if isinstance(value, PokeReturnValue) else PokeReturnValue(bool(value))


class DecoratedSensorOperator(PythonSensor):
    """The operator behind a ``@task.sensor`` function."""

    custom_operator_name = "@task.sensor"

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name
