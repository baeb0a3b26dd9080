"""Dynamic task mapping: ``Op.partial(...).expand(...)``, ``.expand_kwargs(...)`` and their TaskFlow twins.

A mapped task is one node of the DAG that becomes N task instances at run time, N being known once
the values it maps over are: a literal list's length at once, an upstream's output once that
upstream has finished. Several mapped arguments give their cross product, the last one varying
fastest (as ``itertools.product``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagflow.core.spec import MapSourceSpec
from dagflow.exceptions import DagDefinitionError
from dagflow.models import context_stack
from dagflow.models.baseoperator import BaseOperator, _apply_default_args, accepted_parameters, validate_key
from dagflow.models.node import TaskNode
from dagflow.models.xcom_arg import RETURN_KEY, XComArg, iter_xcom_args, set_dependencies_from_arguments

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.dag import DAG
    from dagflow.models.taskgroup import TaskGroup

#: Attributes a mapped task keeps for itself and hands to each of its unmapped task instances.
NODE_ATTRIBUTES = ("is_setup", "is_teardown", "on_failure_fail_dagrun", "trigger_rule")


#: Where one mapped argument's values come from: a literal of known length, or upstreams' outputs.
MapSource = MapSourceSpec


def is_mappable(value: Any) -> bool:
    if isinstance(value, XComArg):
        return True
    return isinstance(value, (Sequence, Mapping)) and not isinstance(value, (str, bytes, bytearray))


def _item(values: Any, index: int) -> Any:
    if isinstance(values, Mapping):
        key = list(values)[index]
        return (key, values[key])
    return values[index]


def _resolved(value: Any, context: Context, resolved_ids: set[int]) -> Any:
    if isinstance(value, XComArg):
        result = value.resolve(context)
        if result is None:
            result = []
        if not is_mappable(result):
            raise TypeError(f"cannot map over the value of type {type(result).__name__} from {value!r}")
        resolved_ids.add(id(result))
        return result
    return value


class DictOfListsExpandInput:
    """``.expand(a=[...], b=[...])``: one task instance per combination of the values."""

    kind = "product"

    def __init__(self, value: dict[str, Any]):
        self.value = value

    def sources(self) -> tuple[MapSource, ...]:
        return tuple(_source(v) for v in self.value.values())

    def references(self) -> list[XComArg]:
        return list(iter_xcom_args(list(self.value.values())))

    def resolve(self, context: Context, map_index: int, resolved_ids: set[int]) -> dict[str, Any]:
        """The keyword arguments of task instance ``map_index``."""
        values = {name: _resolved(v, context, resolved_ids) for name, v in self.value.items()}
        chosen: dict[str, Any] = {}
        remaining = map_index
        for name in reversed(list(values)):
            length = len(values[name])
            if length < 1:
                raise RuntimeError(f"mapped argument {name!r} has no values")
            item = _item(values[name], remaining % length)
            if id(values[name]) in resolved_ids:  # came from an XCom: a value, never a template
                resolved_ids.add(id(item))
            chosen[name] = item
            remaining //= length
        return {name: chosen[name] for name in values}


class ListOfDictsExpandInput:
    """``.expand_kwargs([{...}, {...}])`` or ``.expand_kwargs(upstream_output)``: one instance per dict."""

    kind = "list"

    def __init__(self, value: Any):
        self.value = value

    def sources(self) -> tuple[MapSource, ...]:
        if isinstance(self.value, XComArg):
            return (_source(self.value),)
        return (MapSource(upstream=None, literal_length=len(self.value)),)

    def references(self) -> list[XComArg]:
        return list(iter_xcom_args(self.value))

    def resolve(self, context: Context, map_index: int, resolved_ids: set[int]) -> dict[str, Any]:
        if isinstance(self.value, XComArg):
            items = self.value.resolve(context)
            if not isinstance(items, Sequence) or isinstance(items, str):
                raise TypeError(f"expand_kwargs() expects a list of dicts, got {type(items).__name__}")
            mapping = items[map_index]
            resolved_ids.add(id(mapping))
        else:
            mapping = self.value[map_index]
            if isinstance(mapping, XComArg):
                mapping = mapping.resolve(context)
                resolved_ids.add(id(mapping))
        if not isinstance(mapping, Mapping) or not all(isinstance(k, str) for k in mapping):
            raise TypeError(f"expand_kwargs() expects each item to be a dict with str keys, got {mapping!r}")
        return dict(mapping)


def _source(value: Any) -> MapSource:
    if isinstance(value, XComArg):
        return value.map_source()
    return MapSource(upstream=None, literal_length=len(value))


def check_expand_values(where: str, mapped: dict[str, Any]) -> None:
    if not mapped:
        raise DagDefinitionError(f"{where}: expand() needs at least one argument to map over")
    for name, value in mapped.items():
        if not is_mappable(value):
            raise DagDefinitionError(
                f"{where}: expand() argument {name!r} must be a list, a dict or a task's output, "
                f"got {type(value).__name__}"
            )
        if isinstance(value, XComArg) and value.key != RETURN_KEY:
            raise DagDefinitionError(f"{where}: cannot map over the XCom with custom key {value.key!r}")


def check_expand_kwargs_value(where: str, value: Any) -> None:
    if isinstance(value, XComArg):
        check_expand_values(where, {"expand_kwargs": value})
        return
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise DagDefinitionError(f"{where}: expand_kwargs() takes a list of dicts or a task's output")
    for item in value:
        if not isinstance(item, (Mapping, XComArg)):
            raise DagDefinitionError(f"{where}: expand_kwargs() items must be dicts, got {item!r}")


class OperatorPartial:
    """``Op.partial(**kwargs)``: the arguments shared by every map index of a mapped task."""

    def __init__(self, operator_class: type[BaseOperator], kwargs: dict[str, Any]):
        where = f"{operator_class.__name__}.partial()"
        if "task_id" not in kwargs:
            raise DagDefinitionError(f"{where}: task_id is required")
        unknown = set(kwargs) - accepted_parameters(operator_class) - {"default_args"}
        if unknown:
            raise DagDefinitionError(f"{where}: unknown argument(s) {', '.join(sorted(unknown))}")
        self.operator_class = operator_class
        self.kwargs = _apply_default_args(operator_class, dict(kwargs))

    def expand(self, **mapped: Any) -> MappedOperator:
        where = f"{self.operator_class.__name__}(task_id={self.kwargs['task_id']!r})"
        check_expand_values(where, mapped)
        unknown = set(mapped) - accepted_parameters(self.operator_class)
        if unknown:
            raise DagDefinitionError(
                f"{where}: expand() got unknown argument(s) {', '.join(sorted(unknown))}"
            )
        both = set(mapped) & set(self.kwargs)
        if both:
            raise DagDefinitionError(
                f"{where}: argument(s) {', '.join(sorted(both))} given to both partial() and expand()"
            )
        return MappedOperator(self.operator_class, self.kwargs, DictOfListsExpandInput(mapped))

    def expand_kwargs(self, value: Any) -> MappedOperator:
        where = f"{self.operator_class.__name__}(task_id={self.kwargs['task_id']!r})"
        check_expand_kwargs_value(where, value)
        return MappedOperator(self.operator_class, self.kwargs, ListOfDictsExpandInput(value))


class MappedOperator(TaskNode):
    """A task that runs once per element (or combination) of the values it maps over."""

    is_mapped = True

    def __init__(
        self,
        operator_class: type[BaseOperator],
        partial_kwargs: dict[str, Any],
        expand_input: DictOfListsExpandInput | ListOfDictsExpandInput,
        *,
        mapped_into: str | None = None,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
    ):
        self.operator_class = operator_class
        self.partial_kwargs = dict(partial_kwargs)
        self.expand_input = expand_input
        #: TaskFlow maps into one dict argument (``op_kwargs``) rather than operator arguments.
        self.mapped_into = mapped_into
        dag = dag or self.partial_kwargs.pop("dag", None) or context_stack.current_dag()
        group = task_group or self.partial_kwargs.pop("task_group", None) or context_stack.current_group(dag)
        group = group or (dag.task_group if dag else None)
        label = self.partial_kwargs.pop("task_id")
        common = {k: v for k, v in self.partial_kwargs.items() if k in accepted_parameters(BaseOperator)}
        with context_stack.unmapping():
            self._common = BaseOperator(task_id=label, **common)
        self.__dict__.update({k: v for k, v in vars(self._common).items() if not k.startswith("_init")})
        self.task_id = validate_key(
            "task_id", group.child_id(label) if group else label, operator_class.__name__
        )
        self.dag, self.task_group = None, None
        self.upstream_task_ids, self.downstream_task_ids = set(), set()
        if dag is None:
            raise DagDefinitionError(
                f"mapped task {self.task_id!r} belongs to no DAG: create it inside a DAG"
            )
        _refuse_inside_mapped_group(group, self.task_id)
        dag.add_task(self, group)
        set_dependencies_from_arguments(self, list(self.iter_template_values()))

    def __repr__(self) -> str:
        return f"<Mapped({self.operator_class.__name__}): {self.task_id}>"

    @property
    def operator_name(self) -> str:
        return self.operator_class.__name__

    @property
    def output(self) -> XComArg:
        return XComArg(self)

    @property
    def inherits_from_empty_operator(self) -> bool:
        return self.operator_class.inherits_from_empty_operator

    @property
    def template_fields(self) -> Sequence[str]:
        return self.operator_class.template_fields

    @property
    def params(self) -> dict[str, Any]:
        return self._common_params()

    def _common_params(self) -> dict[str, Any]:
        merged = dict(self.dag.params) if self.dag is not None else {}
        merged.update(self.partial_kwargs.get("params") or {})
        return merged

    def iter_template_values(self) -> list[Any]:
        fields = self.operator_class.template_fields
        values = [v for k, v in self.partial_kwargs.items() if k in fields]
        return [*values, *(r for r in self.expand_input.references())]

    def map_sources(self) -> tuple[MapSource, ...]:
        return self.expand_input.sources()

    def unmap(self, context: Context, map_index: int, resolved_ids: set[int]) -> BaseOperator:
        """The operator of task instance ``map_index``, with its mapped arguments filled in."""
        mapped = self.expand_input.resolve(context, map_index, resolved_ids)
        kwargs = dict(self.partial_kwargs)
        if self.mapped_into:
            kwargs[self.mapped_into] = {**(kwargs.get(self.mapped_into) or {}), **mapped}
        else:
            kwargs.update(mapped)
        with context_stack.unmapping():
            operator = self.operator_class(
                task_id=self.task_id, dag=self.dag, task_group=self.task_group, **kwargs
            )
        for name in NODE_ATTRIBUTES:
            setattr(operator, name, getattr(self, name))
        operator.upstream_task_ids = self.upstream_task_ids
        operator.downstream_task_ids = self.downstream_task_ids
        operator.map_index = map_index
        return operator


def _refuse_inside_mapped_group(group: TaskGroup | None, task_id: str) -> None:
    from dagflow.models.mappedtaskgroup import MappedTaskGroup

    while group is not None:
        if isinstance(group, MappedTaskGroup):
            raise DagDefinitionError(
                f"task {task_id!r}: a mapped task inside the expanded task group {group.group_id!r} is not "
                "supported; expand the group over the combinations instead"
            )
        group = group.parent_group
