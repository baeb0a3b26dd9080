"""``dag.param(name)`` and the arguments of a ``@dag`` function: a param read when a task runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagflow.exceptions import ParamValidationError

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.dag import DAG


class DagParam:
    """Resolves, in order, to the run's conf value, this reference's default, then the DAG param."""

    def __init__(self, dag: DAG, name: str, default: Any = None):
        self.dag, self.name, self.default = dag, name, default
        if default is not None:
            dag.params[name] = default

    def __repr__(self) -> str:
        return f"DagParam({self.name!r})"

    def resolve(self, context: Context) -> Any:
        conf = context["dag_run"].conf or {}
        if self.name in conf:
            return conf[self.name]
        if self.default is not None:
            return self.default
        params = context.get("params") or {}
        if self.name in params:
            return params[self.name]
        raise ParamValidationError(f"DAG {self.dag.dag_id!r}: no value for param {self.name!r}")
