"""``XComArg.map``, ``.zip`` and ``.concat``: references that transform upstream outputs when pulled.

As in Airflow, they are mostly used to feed ``.expand()``: the mapped task gets one map index per
item of the transformed sequence. Their lengths are known as soon as the upstreams' lengths are —
the same as the source for ``map``, the shortest (or, with a ``fillvalue``, the longest) for ``zip``,
the sum for ``concat`` — so the scheduler can expand without pulling any value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagflow.core.spec import MapSourceSpec
from dagflow.exceptions import DagDefinitionError
from dagflow.models.xcom_arg import NOTSET, RETURN_KEY, XComArg

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.node import TaskNode


def _items(value: Any, verb: str, where: XComArg) -> Sequence[Any]:
    """The items of a pulled value: a list's elements (a lazy result stays lazy); a dict's
    ``(key, value)`` pairs for ``map`` (as ``expand`` maps over a dict), its keys for ``zip`` and
    ``concat`` (as Python's ``zip`` and ``itertools.chain``, which Airflow's follow)."""
    if isinstance(value, Mapping):
        return list(value.items()) if verb == "map" else list(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return value
    raise TypeError(f"{where!r}: {verb}() expects a list or a dict, got {type(value).__name__}")


class LazyResult(Sequence[Any]):
    """What a mapped, zipped or concatenated reference resolves to: items computed when read.

    A mapped task instance reads only its own item, so a ``map`` function that raises SkipTask for
    one item skips that map index alone, as in Airflow. A task given the whole reference gets a list
    (see :func:`dagflow.templating.Renderer.render`).
    """

    def __init__(self, size: int, item: Callable[[int], Any]):
        self._size = size
        self._item = item

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(index)
        return self._item(index)

    def __repr__(self) -> str:
        return f"LazyResult(length={self._size})"


def _check_args(args: Sequence[Any], verb: str) -> list[XComArg]:
    for arg in args:
        if not isinstance(arg, XComArg):
            raise DagDefinitionError(f"{verb}() takes tasks' outputs (XComArgs), got {arg!r}")
        if arg.key != RETURN_KEY:
            raise DagDefinitionError(f"cannot {verb}() the XCom {arg.key!r}: only return values")
    return list(args)


class _CompositeXComArg(XComArg):
    """A reference built from others: it depends on every task they depend on."""

    def __init__(self, args: Sequence[XComArg]):
        self.args = list(args)
        super().__init__(self.args[0].operator, RETURN_KEY)

    @property
    def roots(self) -> list[TaskNode]:
        return list(dict.fromkeys(self.iter_references()))

    @property
    def leaves(self) -> list[TaskNode]:
        return self.roots

    def iter_references(self) -> Iterator[TaskNode]:
        for arg in self.args:
            yield from arg.iter_references()

    def __str__(self) -> str:
        raise TypeError(f"{self!r} cannot be used as a template string; pass it to a task instead")


class MapXComArg(_CompositeXComArg):
    """``out.map(f)``: each item of ``out`` passed through ``f`` (and the next functions, in order)."""

    def __init__(self, arg: XComArg, functions: Sequence[Callable[[Any], Any]]):
        for function in functions:
            if not callable(function) or hasattr(function, "expand"):
                raise DagDefinitionError(f"map() takes a plain function, got {function!r}")
        super().__init__([arg])
        self.functions = list(functions)

    def __repr__(self) -> str:
        calls = "".join(f".map({getattr(f, '__name__', f)})" for f in self.functions)
        return f"{self.args[0]!r}{calls}"

    def map(self, function: Callable[[Any], Any]) -> XComArg:
        return MapXComArg(self.args[0], [*self.functions, function])

    def map_source(self) -> MapSourceSpec:
        return self.args[0].map_source()

    def resolve(self, context: Context) -> LazyResult:
        items = _items(self.args[0].resolve(context), "map", self)

        def mapped(index: int) -> Any:
            item = items[index]
            for function in self.functions:
                item = function(item)
            return item

        return LazyResult(len(items), mapped)


class ZipXComArg(_CompositeXComArg):
    """``a.zip(b, c)``: tuples of their items, as ``zip``; with ``fillvalue`` as ``zip_longest``."""

    def __init__(self, args: Sequence[XComArg], *, fillvalue: Any = NOTSET):
        super().__init__(_check_args(args, "zip"))
        self.fillvalue = fillvalue

    def __repr__(self) -> str:
        first, *rest = (repr(a) for a in self.args)
        fill = "" if self.fillvalue is NOTSET else f", fillvalue={self.fillvalue!r}"
        return f"{first}.zip({', '.join(rest)}{fill})"

    def map_source(self) -> MapSourceSpec:
        combine = "zip" if self.fillvalue is NOTSET else "zip_longest"
        return MapSourceSpec(combine=combine, parts=tuple(a.map_source() for a in self.args))

    def resolve(self, context: Context) -> LazyResult:
        columns = [_items(a.resolve(context), "zip", self) for a in self.args]
        lengths = [len(c) for c in columns]
        size = min(lengths) if self.fillvalue is NOTSET else max(lengths)

        def row(index: int) -> tuple[Any, ...]:
            return tuple(column[index] if index < len(column) else self.fillvalue for column in columns)

        return LazyResult(size, row)


class ConcatXComArg(_CompositeXComArg):
    """``a.concat(b, c)``: the items of ``a``, then those of ``b``, then ``c``'s."""

    def __init__(self, args: Sequence[XComArg]):
        super().__init__(_check_args(args, "concat"))

    def __repr__(self) -> str:
        first, *rest = (repr(a) for a in self.args)
        return f"{first}.concat({', '.join(rest)})"

    def concat(self, *others: XComArg) -> XComArg:
        return ConcatXComArg([*self.args, *others])

    def map_source(self) -> MapSourceSpec:
        return MapSourceSpec(combine="concat", parts=tuple(a.map_source() for a in self.args))

    def resolve(self, context: Context) -> LazyResult:
        parts = [_items(a.resolve(context), "concat", self) for a in self.args]

        def item(index: int) -> Any:
            for part in parts:
                if index < len(part):
                    return part[index]
                index -= len(part)
            raise IndexError(index)

        return LazyResult(sum(len(p) for p in parts), item)
