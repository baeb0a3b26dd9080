"""The trigger form: one input per DAG param, typed by its JSON schema, read back into a run's conf.

Pure functions over the params as the store keeps them (``name -> {default, has_default, description,
schema}``). Each value is checked with the same :class:`~dagflow.models.param.Param` validation the
store applies when the run is created, so an error can be shown next to its own input.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dagflow import actions
from dagflow.exceptions import DagflowError, ParamValidationError
from dagflow.models.param import Param

#: Input names: ``param.<name>`` per param, then the raw conf and the logical date.
PREFIX = "param."
SIMPLE = ("string", "number", "integer", "boolean")


@dataclass(frozen=True)
class Field:
    """One input of the form: its kind decides the widget (text, number, select, JSON textarea)."""

    name: str
    kind: str
    text: str
    description: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    #: The schema's ``title``, shown as the input's label beside the param's name.
    title: str | None = None
    #: A JSON input whose types are all scalars (``["integer", "string"]``): one line, not a box.
    one_line: bool = False

    @property
    def input_name(self) -> str:
        return PREFIX + self.name


@dataclass
class Submission:
    """What a submitted form asks for: the conf, the logical date, and an error per input that is wrong."""

    conf: dict[str, Any] = field(default_factory=dict)
    logical_date: datetime | None = None
    #: None: the default, ``manual__<logical date>``.
    run_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    return [declared] if isinstance(declared, str) else list(declared or [])


def kind_of(param: Mapping[str, Any]) -> str:
    """``enum``, one of :data:`SIMPLE`, or ``json`` (arrays, objects, several types): the widget to use."""
    schema = param.get("schema") or {}
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "enum"
    types = [t for t in _types(schema) if t != "null"]
    if len(types) == 1:
        return types[0] if types[0] in SIMPLE else "json"
    if types:
        return "json"
    return _kind_of_default(param.get("default"))


def _kind_of_default(default: Any) -> str:
    """A param without a type in its schema takes the widget of its default's type (text if none)."""
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    if default is None or isinstance(default, str):
        return "string"
    return "json"


def _nullable(param: Mapping[str, Any]) -> bool:
    schema = param.get("schema") or {}
    if "null" in _types(schema) or None in (schema.get("enum") or [object()]):
        return True
    return not _types(schema) and "enum" not in schema and param.get("default") is None


def text_of(kind: str, value: Any) -> str:
    """How a value shows in its input."""
    if value is None:
        return "null" if kind == "enum" else ""
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("number", "integer"):
        return str(value)
    return json.dumps(value, indent=2 if kind == "json" else None, ensure_ascii=False)


def _fixed(param: Mapping[str, Any]) -> bool:
    """A param whose schema allows one value (``const``): passed to the run, not shown in the form,
    as Airflow hides it."""
    return "const" in (param.get("schema") or {})


def _takes_plain_text(param: Mapping[str, Any]) -> bool:
    """A param of several types, ``string`` among them: its input is read as JSON when that gives a
    value of one of its types, else as the text itself (``500`` is an integer, ``all`` the string),
    as Airflow 3.3 reads multi-type params."""
    return kind_of(param) == "json" and "string" in _types(param.get("schema") or {})


def _of_a_type(value: Any, types: list[str]) -> bool:
    """Whether ``value`` is of one of the JSON-schema ``types`` (a bool is no integer nor number)."""
    plain = {"string": str, "object": dict, "array": list, "boolean": bool, "null": type(None)}
    numeric = {"integer": (int,), "number": (int, float)}
    for name in types:
        if name in plain and isinstance(value, plain[name]):
            return True
        if name in numeric and isinstance(value, numeric[name]) and not isinstance(value, bool):
            return True
    return False


def _json_or_text(param: Mapping[str, Any], raw: str) -> Any:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    return parsed if _of_a_type(parsed, _types(param.get("schema") or {})) else raw


def shown_text(param: Mapping[str, Any], value: Any) -> str:
    """How ``value`` shows in ``param``'s input: a multi-type param's string as it is, unless it would
    read back as another of its types, or is empty (then as JSON: ``"500"``, ``""``)."""
    if isinstance(value, str) and value and _takes_plain_text(param) and _json_or_text(param, value) == value:
        return value
    return text_of(kind_of(param), value)


def _choice_label(schema: Mapping[str, Any], choice: Any) -> str:
    """What a choice of an enum reads as: its ``values_display`` label (whose keys JSON made text:
    ``"1"``, ``"null"``), else the value itself."""
    shown = choice if isinstance(choice, str) else json.dumps(choice)
    labels = schema.get("values_display")
    if not isinstance(labels, Mapping):
        return shown
    for key in (shown, str(choice)) if isinstance(choice, str) else (choice, shown, str(choice)):
        with contextlib.suppress(TypeError):  # a list or a dict choice is no key
            if key in labels:
                return str(labels[key])
    return shown


def _options(kind: str, param: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if kind == "enum":
        choices = param["schema"]["enum"]
        return tuple((json.dumps(c), _choice_label(param["schema"], c)) for c in choices)
    if kind == "boolean":
        empty = (("", "(none)"),) if _nullable(param) else ()
        return (*empty, ("true", "true"), ("false", "false"))
    return ()


def form_fields(
    params: Mapping[str, Mapping[str, Any]],
    submitted: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[Field]:
    """The inputs, showing the defaults, or what was submitted (kept when it had errors)."""
    found = []
    for name, param in params.items():
        if _fixed(param):
            continue
        kind = kind_of(param)
        if submitted is not None:
            text = submitted.get(PREFIX + name, "")
        else:
            text = shown_text(param, param.get("default")) if param.get("has_default", True) else ""
        title = (param.get("schema") or {}).get("title")
        found.append(
            Field(
                name,
                kind,
                text,
                param.get("description"),
                _options(kind, param),
                (errors or {}).get(name),
                title if isinstance(title, str) else None,
                kind == "json" and _scalar_types(param) and "\n" not in text,
            )
        )
    return found


def _scalar_types(param: Mapping[str, Any]) -> bool:
    """Whether the param's schema declares types and none of them is an array or an object."""
    types = _types(param.get("schema") or {})
    return bool(types) and not {"array", "object"} & set(types)


def read_value(param: Mapping[str, Any], raw: str) -> Any:
    """The value an input's text stands for; a ValueError says what to type instead."""
    kind = kind_of(param)
    if raw == "" and kind != "enum":
        if _nullable(param):
            return None
        if kind == "string" or _takes_plain_text(param):
            return ""
        raise ValueError("a value is required")
    if kind == "string":
        return raw
    if _takes_plain_text(param):
        return _json_or_text(param, raw)
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("choose true or false")
        return raw == "true"
    if kind in ("integer", "number"):
        return _number(raw, whole=kind == "integer")
    try:
        return json.loads(raw)
    except ValueError as exc:
        problem = "choose one of the listed values" if kind == "enum" else f"not valid JSON: {exc}"
        raise ValueError(problem) from None


def _number(raw: str, *, whole: bool) -> int | float:
    try:
        return int(raw.strip())
    except ValueError:
        if whole:
            raise ValueError("enter a whole number") from None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("enter a number") from None
    if not math.isfinite(value):
        raise ValueError("enter a finite number")
    return value


def parse_conf(text: str) -> dict[str, Any]:
    """The raw conf textarea: a JSON object (empty means none)."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError('the conf must be a JSON object, like {"key": "value"}')
    return value


def parse_logical_date(text: str) -> datetime | None:
    """An ISO 8601 date-time (UTC when it names no timezone); empty means now."""
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError("use an ISO 8601 date-time, like 2024-01-31T00:00:00+00:00") from None


def read_form(params: Mapping[str, Mapping[str, Any]], form: Mapping[str, str]) -> Submission:
    """Each param's value, validated by its schema, with the raw conf merged on top."""
    found = Submission()
    for name, param in params.items():
        if _fixed(param):
            continue  # not in the form: its one value, the default, applies
        raw = form.get(PREFIX + name, "")
        if raw == "" and not param.get("has_default", True):
            continue  # not given: the conf box may give it, else the trigger refuses the conf (as every path)
        try:
            value = read_value(param, raw)
            Param.load(param).resolve(value, name=name)
        except (ValueError, ParamValidationError) as exc:
            found.errors[name] = str(exc)
        else:
            found.conf[name] = value
    try:
        found.conf.update(parse_conf(form.get("conf", "")))
    except ValueError as exc:
        found.errors["conf"] = str(exc)
    try:
        found.logical_date = parse_logical_date(form.get("logical_date", ""))
    except ValueError as exc:
        found.errors["logical_date"] = str(exc)
    run_id = form.get("run_id", "").strip()
    try:
        found.run_id = actions.check_run_id(run_id) if run_id else None
    except DagflowError as exc:
        found.errors["run_id"] = str(exc)
    return found
