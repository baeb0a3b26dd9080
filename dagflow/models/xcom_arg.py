"""References to another task's output (``task_a()`` in TaskFlow, ``op.output``, ``out["key"]``).

Passing one into a task's arguments makes that task depend on the producer; at run time the
reference is replaced by the value the producer pushed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dagflow.core.spec import MapSourceSpec
from dagflow.exceptions import DagDefinitionError, XComNotFound
from dagflow.models.node import DependencyMixin, TaskNode

if TYPE_CHECKING:
    from dagflow.context import Context

RETURN_KEY = "return_value"


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


#: ``zip()`` without a ``fillvalue`` (None is a fill value like any other).
NOTSET: Any = _NotSet()


class XComArg(DependencyMixin):
    """The XCom ``key`` of ``operator``, to be resolved when the consuming task runs."""

    def __init__(self, operator: TaskNode, key: str = RETURN_KEY):
        self.operator = operator
        self.key = key

    def __repr__(self) -> str:
        suffix = "" if self.key == RETURN_KEY else f"[{self.key!r}]"
        return f"XComArg({self.operator.task_id!r}){suffix}"

    @property
    def roots(self) -> list[TaskNode]:
        return [self.operator]

    @property
    def leaves(self) -> list[TaskNode]:
        return [self.operator]

    def __str__(self) -> str:
        """The Jinja expression that pulls this XCom, for the old ``f"echo {task.output}"`` style.

        As in Airflow, it makes no edge: the consuming task must still be set downstream.
        """
        dag_id = self.operator.dag.dag_id if self.operator.dag is not None else None
        return (
            f"{{{{ task_instance.xcom_pull(task_ids='{self.operator.task_id}', dag_id='{dag_id}', "
            f"key='{self.key}') }}}}"
        )

    def __getitem__(self, key: str) -> XComArg:
        """``out["k"]``: the XCom pushed under key ``k`` (a key of a ``multiple_outputs`` dict)."""
        return XComArg(self.operator, key)

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            f"the output of task {self.operator.task_id!r} is not known until it runs, so it cannot be "
            "iterated while the DAG is defined; pass it to a task or map over it with .expand()"
        )

    def iter_references(self) -> Iterator[TaskNode]:
        """The tasks whose outputs this reference reads."""
        yield self.operator

    def map_source(self) -> MapSourceSpec:
        """What a mapped task mapping over this reference needs to know to count its map indexes."""
        return MapSourceSpec(upstream=self.operator.task_id)

    def map(self, function: Callable[[Any], Any]) -> XComArg:
        """The output with ``function`` applied to each item when it is pulled (``.map(f).map(g)`` too)."""
        from dagflow.models.xcom_arg_ops import MapXComArg

        self._require_return_key("map")
        return MapXComArg(self, [function])

    def zip(self, *others: XComArg, fillvalue: Any = NOTSET) -> XComArg:
        """Tuples of the items of this output and ``others``, as ``zip()``; with ``fillvalue``, as
        ``itertools.zip_longest()`` (the longest decides the length, the missing items are filled)."""
        from dagflow.models.xcom_arg_ops import ZipXComArg

        self._require_return_key("zip")
        return ZipXComArg([self, *others], fillvalue=fillvalue)

    def concat(self, *others: XComArg) -> XComArg:
        """The items of this output followed by those of ``others``, as ``itertools.chain``."""
        from dagflow.models.xcom_arg_ops import ConcatXComArg

        self._require_return_key("concat")
        return ConcatXComArg([self, *others])

    def _require_return_key(self, verb: str) -> None:
        if self.key != RETURN_KEY:
            raise DagDefinitionError(
                f"cannot {verb}() the XCom {self.key!r} of task {self.operator.task_id!r}: only a task's "
                "return value can be mapped, zipped or concatenated"
            )

    def __enter__(self) -> XComArg:
        """``with setup_task() >> teardown_task():`` (see :mod:`dagflow.models.setup_teardown`)."""
        from dagflow.models.setup_teardown import enter_context

        enter_context(self.operator)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from dagflow.models.setup_teardown import exit_context

        exit_context(self.operator, failed=exc_type is not None)

    def as_setup(self) -> XComArg:
        self.operator.as_setup()
        return self

    def as_teardown(self, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None) -> XComArg:
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def resolve(self, context: Context) -> Any:
        """The value this reference stands for in the running task instance's DAG run.

        A mapped producer gives the list of its map indexes' values, unless the consumer is in the same
        expanded task group: then it gets the value of its own map index. A missing ``return_value`` gives
        None (the producer returned nothing or was skipped), and so does a missing key of a
        ``multiple_outputs`` producer; any other missing key is an error.
        """
        ti = context["ti"]
        task_id = self.operator.task_id
        index = same_group_index(self.operator, ti)
        if self.operator.is_mapped and index is None:
            return ti.xcom_store.mapped_values(ti.run_ref, task_id, self.key)
        found, value = ti.xcom_store.get(ti.run_ref, task_id, -1 if index is None else index, self.key)
        if found:
            return value
        if self.key == RETURN_KEY or getattr(self.operator, "multiple_outputs", False):
            return None
        raise XComNotFound(ti.dag_id, task_id, self.key)


def same_group_index(producer: TaskNode, ti: Any) -> int | None:
    """The map index to pull from ``producer`` when ``ti`` runs in the same expanded task group as it
    (Airflow pulls the "relevant" map index there), else None."""
    from dagflow.models.mappedtaskgroup import closest_mapped_group

    group = closest_mapped_group(producer)
    if group is None or ti.map_index < 0 or closest_mapped_group(ti.task) is not group:
        return None
    return int(ti.map_index)


def iter_xcom_args(value: Any) -> Iterator[XComArg]:
    """Every XCom reference inside ``value``, looking into lists, tuples, sets and dicts."""
    if isinstance(value, XComArg):
        yield value
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from iter_xcom_args(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from iter_xcom_args(item)


def set_dependencies_from_arguments(task: TaskNode, values: Any) -> None:
    """Make ``task`` depend on the producer of every XCom reference found in ``values``."""
    for arg in iter_xcom_args(values):
        for producer in arg.iter_references():
            if producer is task:
                raise DagDefinitionError(f"task {task.task_id!r} cannot take its own output as an argument")
            task.set_upstream(producer)
