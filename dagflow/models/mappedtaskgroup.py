"""Expanded task groups: ``@task_group`` functions called with ``.expand(...)``/``.partial(...)``.

As in Airflow, the group's function runs once while the DAG is defined, with each mapped argument
standing for "this map index's value" (a :class:`MappedArgument`). Every task created inside then has
one task instance per map index of the group; an index flows through the group on its own (a task
of index ``i`` waits for, and pulls the output of, index ``i`` of its upstreams in the group), while
a task downstream of the group waits for every index and pulls the list of their values.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dagflow.core.spec import MapSourceSpec
from dagflow.exceptions import DagDefinitionError
from dagflow.models.mappedoperator import (
    DictOfListsExpandInput,
    ListOfDictsExpandInput,
    check_expand_kwargs_value,
    check_expand_values,
)
from dagflow.models.taskgroup import TaskGroup
from dagflow.models.xcom_arg import iter_xcom_args

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.node import TaskNode

ExpandInput = DictOfListsExpandInput | ListOfDictsExpandInput


class MappedTaskGroup(TaskGroup):
    """A task group whose tasks run once per map index of ``expand_input``."""

    is_expanded = True

    def __init__(self, group_id: str, expand_input: ExpandInput, **kwargs: Any):
        super().__init__(group_id, add_suffix_on_collision=True, **kwargs)
        self.expand_input = expand_input
        if self.parent_group is not None and self.parent_group.mapped_ancestor is not None:
            raise DagDefinitionError(
                f"task group {self.group_id!r}: an expanded task group inside another expanded task group "
                "is not supported"
            )


class MappedArgument:
    """Argument ``name`` of an expanded group's function: the value of the running map index."""

    def __init__(self, group: MappedTaskGroup, name: str, default: Any = inspect.Parameter.empty):
        self.group = group
        self.name = name
        self.default = default

    def __repr__(self) -> str:
        return f"MappedArgument({self.group.group_id!r}, {self.name!r})"

    def resolve(self, context: Context) -> Any:
        ti = context["ti"]
        if ti.map_index < 0 or closest_mapped_group(ti.task) is not self.group:
            raise TypeError(
                f"{self!r} is the value of one map index of task group {self.group.group_id!r}: only "
                "tasks created inside that group can use it"
            )
        values = self.group.expand_input.resolve(context, ti.map_index, set())
        if self.name not in values:
            if self.default is not inspect.Parameter.empty:
                return self.default
            raise TypeError(
                f"task group {self.group.group_id!r}: map index {ti.map_index} has no value for {self.name!r}"
            )
        return values[self.name]


def closest_mapped_group(task: TaskNode) -> TaskGroup | None:
    """The innermost expanded task group ``task`` is in, if any."""
    group = getattr(task, "task_group", None)
    return group.mapped_ancestor if group is not None else None


def mapping_of(task: TaskNode) -> tuple[str | None, tuple[MapSourceSpec, ...], str | None]:
    """How ``task``'s task instances are mapped: the kind (``product`` or ``list``), the sources of
    its values, and the id of the expanded group it is in (all empty for an unmapped task)."""
    if not task.is_mapped:
        return None, (), None
    group = closest_mapped_group(task)
    if isinstance(group, MappedTaskGroup):
        return group.expand_input.kind, group.expand_input.sources(), group.group_id
    attrs: Any = task
    return attrs.expand_input.kind, tuple(attrs.map_sources()), None


def expanded_ti_count(task: TaskNode, context: Context) -> int | None:
    """How many task instances mapped ``task`` has in the running DAG run (Airflow's context key
    ``expanded_ti_count``), None for an unmapped task."""
    if not task.is_mapped:
        return None
    group = closest_mapped_group(task)
    attrs: Any = group if isinstance(group, MappedTaskGroup) else task
    expand_input = attrs.expand_input
    if expand_input.kind == "list":
        value = expand_input.value
        return len(value.resolve(context) if hasattr(value, "resolve") else value)
    count = 1
    for value in expand_input.value.values():
        count *= len(value.resolve(context) if hasattr(value, "resolve") else value)
    return count


def expand_group(
    function: Callable[..., Any],
    options: dict[str, Any],
    partial_kwargs: dict[str, Any],
    expand_input: ExpandInput,
    mapped_names: list[str],
) -> Any:
    """Create an expanded group running ``function``; returns what it returns (else the group)."""
    group_id = options.pop("group_id", None) or function.__name__
    if function.__doc__ and not options.get("tooltip"):
        options["tooltip"] = inspect.cleandoc(function.__doc__)
    group = MappedTaskGroup(group_id, expand_input, **options)
    with group:
        parameters = inspect.signature(function).parameters
        arguments = {
            name: MappedArgument(
                group, name, parameters[name].default if name in parameters else inspect.Parameter.empty
            )
            for name in mapped_names
        }
        returned = function(**partial_kwargs, **arguments)
    for reference in iter_xcom_args(expand_input.value):
        for producer in reference.iter_references():
            group.set_upstream(producer)
    return group if returned is None else returned


class TaskGroupPartial:
    """``my_group.partial(...)``: arguments every map index of the group gets as they are."""

    def __init__(self, function: Callable[..., Any], options: dict[str, Any], partial_kwargs: dict[str, Any]):
        self.function = function
        self.options = options
        self.partial_kwargs = partial_kwargs
        self._parameters = inspect.signature(function).parameters
        self._check_names(partial_kwargs, "partial")

    @property
    def _where(self) -> str:
        return f"task group {self.options.get('group_id') or self.function.__name__!r}"

    def _check_names(self, names: Any, verb: str) -> None:
        takes_any = any(p.kind is p.VAR_KEYWORD for p in self._parameters.values())
        for name in names:
            if name not in self._parameters and not takes_any:
                raise DagDefinitionError(f"{self._where}: {verb}() got an unexpected argument {name!r}")

    def expand(self, **mapped: Any) -> Any:
        """One run of the group's tasks per element (or combination) of the mapped arguments."""
        check_expand_values(self._where, mapped)
        self._check_names(mapped, "expand")
        both = set(mapped) & set(self.partial_kwargs)
        if both:
            raise DagDefinitionError(
                f"{self._where}: {', '.join(sorted(both))} given to partial() and expand()"
            )
        return expand_group(
            self.function,
            dict(self.options),
            self.partial_kwargs,
            DictOfListsExpandInput(mapped),
            list(mapped),
        )

    def expand_kwargs(self, value: Any) -> Any:
        """One run of the group's tasks per dict of keyword arguments (a list, or a task's output)."""
        check_expand_kwargs_value(self._where, value)
        names = [
            name
            for name, p in self._parameters.items()
            if name not in self.partial_kwargs and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        return expand_group(
            self.function, dict(self.options), self.partial_kwargs, ListOfDictsExpandInput(value), names
        )
