"""XCom values beyond JSON, kept as JSON: a typed envelope for each value JSON cannot hold.

As Airflow's serde does, a value that is not a JSON type is stored as
``{"__classname__": "<module.Class>", "__version__": 1, "__data__": <JSON>}`` and turned back into
the same type when read: datetimes (pendulum's too), dates, times, timedeltas, tuples, sets,
frozensets, Decimal, pathlib paths, dataclasses, and pandas DataFrames when pandas is installed.
Plain JSON carries no envelope, so XComs written before this read back unchanged.

Anything else is refused with :class:`TypeError` naming the type and where in the value it sits; the
caller adds the task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import importlib
import io
import json
import math
import pathlib
import sys
from collections.abc import Callable
from typing import Any

CLASSNAME, VERSION, DATA = "__classname__", "__version__", "__data__"
SUPPORTED = (
    "str, int, float, bool, None, list, dict with str keys, tuple, set, frozenset, datetime, date, "
    "time, timedelta, Decimal, pathlib paths, dataclasses, pandas DataFrame"
)


def _envelope(classname: str, data: Any) -> dict[str, Any]:
    return {CLASSNAME: classname, VERSION: 1, DATA: data}


def classname_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# -- to JSON -------------------------------------------------------------------------------------


def serialize(value: Any, path: str = "value") -> Any:
    """``value`` as JSON-ready data: JSON types as they are, others in their envelope.

    Tuples follow Airflow's XCom encoder: one returned as the value itself, or found inside another
    enveloped value (a set, a dataclass...), keeps its type; one inside a plain list or dict is a
    list, as the JSON encoder makes it before serde ever sees it.
    """
    if isinstance(value, tuple):
        return _collection(value, path)
    return _serialize(value, path, in_envelope=False)


def _serialize(value: Any, path: str, *, in_envelope: bool) -> Any:
    if value is None or isinstance(value, (str, int)):  # str and int enums included, as JSON has them
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{path} is {value!r}: NaN and infinities cannot be stored")
        return value
    if isinstance(value, list) or (isinstance(value, tuple) and not in_envelope):
        return [_serialize(item, f"{path}[{i}]", in_envelope=in_envelope) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return _serialize_dict(value, path, in_envelope)
    return _enveloped(value, path)


def _enveloped(value: Any, path: str) -> dict[str, Any]:
    """A value JSON has no type for, in its typed envelope."""
    if isinstance(value, (tuple, set, frozenset)):
        return _collection(value, path)
    for kind, encoder in _ENCODERS:
        if isinstance(value, kind):
            return _envelope(classname_of(type(value)), encoder(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _serialize(getattr(value, f.name), f"{path}.{f.name}", in_envelope=True)
            for f in dataclasses.fields(value)
        }
        return _envelope(classname_of(type(value)), fields)
    if _is_dataframe(value):
        return _envelope("pandas.core.frame.DataFrame", value.to_json(orient="table", date_format="iso"))
    raise TypeError(
        f"{path} is of type {classname_of(type(value))}, which cannot be stored as an XCom ({SUPPORTED})"
    )


def _serialize_dict(value: dict[Any, Any], path: str, in_envelope: bool) -> dict[str, Any]:
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{path} has a key of type {type(key).__name__} ({key!r}): dict keys must be str")
        out[key] = _serialize(item, f"{path}[{key!r}]", in_envelope=in_envelope)
    return out


def _collection(value: tuple[Any, ...] | set[Any] | frozenset[Any], path: str) -> dict[str, Any]:
    """A tuple, set or frozenset (subclasses such as named tuples as their builtin type)."""
    kind = next(k for k in (tuple, frozenset, set) if isinstance(value, k))
    items = list(value)
    if kind is not tuple:
        with contextlib.suppress(TypeError):  # a stable order: the same set is stored the same way
            items.sort()
    data = [_serialize(item, f"{path}[{i}]", in_envelope=True) for i, item in enumerate(items)]
    return _envelope(f"builtins.{kind.__name__}", data)


def _datetime(value: dt.datetime) -> dict[str, Any]:
    return {"iso": value.isoformat(), "tz": _zone_name(value.tzinfo)}


def _zone_name(tz: dt.tzinfo | None) -> str | None:
    """An IANA zone's name (``Europe/Berlin``), so the value comes back in its zone, not a fixed offset."""
    key = getattr(tz, "key", None) or getattr(tz, "name", None)
    return key if (isinstance(key, str) and "/" in key) or key == "UTC" else None


_ENCODERS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (dt.datetime, _datetime),
    (dt.date, lambda v: v.isoformat()),
    (dt.time, lambda v: v.isoformat()),
    (dt.timedelta, lambda v: v.total_seconds()),
    (decimal.Decimal, str),
    (pathlib.PurePath, str),
)


def _is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")  # never imported here: a DataFrame means pandas is loaded
    return pandas is not None and isinstance(value, pandas.DataFrame)


# -- from JSON -----------------------------------------------------------------------------------


def deserialize(data: Any) -> Any:
    """What :func:`serialize` was given, from its JSON-ready data."""
    if isinstance(data, list):
        return [deserialize(item) for item in data]
    if not isinstance(data, dict):
        return data
    if CLASSNAME in data and DATA in data:
        return _restore(data[CLASSNAME], data[DATA])
    return {key: deserialize(item) for key, item in data.items()}


def _restore(classname: str, data: Any) -> Any:
    decoder = _DECODERS.get(classname)
    if decoder is not None:
        return decoder(data)
    if classname == "pandas.core.frame.DataFrame":
        import pandas

        return pandas.read_json(io.StringIO(data), orient="table")
    cls = _import_class(classname)
    if isinstance(cls, type) and issubclass(cls, pathlib.PurePath):
        return cls(data)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        make: Callable[..., Any] = cls
        return make(**{name: deserialize(value) for name, value in data.items()})
    raise TypeError(f"cannot read back an XCom value of type {classname}")


def _import_class(classname: str) -> Any:
    """The class ``module.Qual.Name``: the longest importable module prefix, then attributes."""
    parts = classname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        module = sys.modules.get(module_name)
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
        obj: Any = module
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise TypeError(f"cannot read back an XCom value of type {classname}: the class cannot be imported")


def _read_datetime(data: dict[str, Any]) -> dt.datetime:
    import pendulum

    value = pendulum.parse(data["iso"])
    assert isinstance(value, pendulum.DateTime)
    return value.in_timezone(data["tz"]) if data.get("tz") else value


def _plain_datetime(data: dict[str, Any]) -> dt.datetime:
    value = dt.datetime.fromisoformat(data["iso"])
    if data.get("tz") and value.tzinfo is not None:
        from zoneinfo import ZoneInfo

        value = value.astimezone(ZoneInfo(data["tz"]))
    return value


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime.datetime": _plain_datetime,
    "pendulum.datetime.DateTime": _read_datetime,
    "datetime.date": dt.date.fromisoformat,
    "pendulum.date.Date": lambda d: _pendulum().Date.fromisoformat(d),
    "datetime.time": dt.time.fromisoformat,
    "datetime.timedelta": lambda d: dt.timedelta(seconds=d),
    "pendulum.duration.Duration": lambda d: _pendulum().duration(seconds=d),
    "decimal.Decimal": decimal.Decimal,
    "builtins.tuple": lambda d: tuple(deserialize(d)),
    "builtins.set": lambda d: set(deserialize(d)),
    "builtins.frozenset": lambda d: frozenset(deserialize(d)),
}


def _pendulum() -> Any:
    import pendulum

    return pendulum


# -- for people ----------------------------------------------------------------------------------


def json_view(value: Any) -> Any:
    """``value`` as plain JSON for a report a person reads (``dags test --json``): datetimes and
    dates as ISO text, sets as sorted lists, tuples as lists, Decimal and paths as text, timedeltas
    as seconds, dataclasses as dicts. Lossy on purpose: the stored form keeps the types."""
    if isinstance(value, dict):
        return {str(key): json_view(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_view(item) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [json_view(item) for item in value]
        try:
            return sorted(items)
        except TypeError:  # mixed types: still one order for the same set
            return sorted(items, key=lambda item: (type(item).__name__, repr(item)))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, pathlib.PurePath)):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_view(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if _is_dataframe(value):
        return json_view(value.to_dict(orient="records"))
    return value


def readable(data: Any) -> str:
    """Stored JSON-ready ``data`` as the text a person reads (the web UI's and the API's XCom value).

    JSON parts read as JSON, in the stored form's compact layout; typed values read as their Python
    selves: a datetime, date or time as its ISO text, a set as ``{1,2}``, a tuple as ``(1,2)``, a
    Decimal as its digits, a dataclass as ``Point(x=1,y=2)``. Worked out from the envelope alone,
    never by importing the class it names: the webserver need not (and should not) import DAG code.
    """
    if isinstance(data, list):
        return "[" + ",".join(readable(item) for item in data) + "]"
    if isinstance(data, dict):
        if CLASSNAME in data and DATA in data:
            return _readable_envelope(str(data[CLASSNAME]), data[DATA])
        return "{" + ",".join(f"{json.dumps(str(k))}:{readable(v)}" for k, v in data.items()) + "}"
    return json.dumps(data)


def _readable_envelope(classname: str, data: Any) -> str:
    simple = _READABLE.get(classname)
    if simple is not None:
        return simple(data)
    if classname.startswith(("pathlib.", "pendulum.")) and isinstance(data, str):
        return json.dumps(data)
    if classname == "pandas.core.frame.DataFrame" and isinstance(data, str):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            return f"DataFrame({readable(json.loads(data)['data'])})"
    name = classname.rsplit(".", 1)[-1]
    if isinstance(data, dict):  # a dataclass: its fields
        return f"{name}(" + ",".join(f"{field}={readable(v)}" for field, v in data.items()) + ")"
    return f"{name}({readable(data)})"


def _readable_items(data: Any) -> str:
    return ",".join(readable(item) for item in data) if isinstance(data, list) else readable(data)


def _readable_tuple(data: Any) -> str:
    one = isinstance(data, list) and len(data) == 1
    return f"({_readable_items(data)}{',' if one else ''})"


def _readable_seconds(data: Any) -> str:
    return json.dumps(str(dt.timedelta(seconds=data))) if isinstance(data, (int, float)) else readable(data)


_READABLE: dict[str, Callable[[Any], str]] = {
    "datetime.datetime": lambda d: readable(d.get("iso")) if isinstance(d, dict) else readable(d),
    "pendulum.datetime.DateTime": lambda d: readable(d.get("iso")) if isinstance(d, dict) else readable(d),
    "datetime.date": readable,
    "datetime.time": readable,
    "datetime.timedelta": _readable_seconds,
    "pendulum.duration.Duration": _readable_seconds,
    "decimal.Decimal": lambda d: str(d),
    "builtins.tuple": _readable_tuple,
    "builtins.set": lambda d: f"{{{_readable_items(d)}}}" if d else "set()",
    "builtins.frozenset": lambda d: f"frozenset({{{_readable_items(d)}}})" if d else "frozenset()",
}


def has_envelope(data: Any) -> bool:
    """Whether stored JSON-ready ``data`` holds a typed envelope anywhere (else it is plain JSON)."""
    if isinstance(data, list):
        return any(has_envelope(item) for item in data)
    if isinstance(data, dict):
        return (CLASSNAME in data and DATA in data) or any(has_envelope(v) for v in data.values())
    return False
