"""DAG params: named values with defaults and an optional JSON schema, overridable per run by its conf."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from dagflow.exceptions import ParamValidationError


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False


NOTSET: Any = _NotSet()


def _check_json(value: Any, name: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParamValidationError(
            f"param {name!r}: value {value!r} is not JSON-serialisable ({exc})"
        ) from None


class Param:
    """A param's default, description and JSON schema (``type=``, ``enum=``... or a whole ``schema=``)."""

    def __init__(self, default: Any = NOTSET, description: str | None = None, **kwargs: Any):
        if default is not NOTSET:
            _check_json(default, "?")
        self.value = default
        self.description = description
        self.schema: dict[str, Any] = kwargs.pop("schema") if "schema" in kwargs else kwargs

    def __repr__(self) -> str:
        return f"Param({self.value!r}, schema={self.schema!r})"

    @property
    def has_value(self) -> bool:
        return self.value is not NOTSET

    def resolve(self, value: Any = NOTSET, *, name: str = "?") -> Any:
        """Validate ``value`` (or the default when none is given) and return it."""
        final = self.value if value is NOTSET else value
        if final is NOTSET:
            raise ParamValidationError(f"param {name!r} has no default and no value was given for it")
        _check_json(final, name)
        schema = self.effective_schema
        if schema:
            _validate_schema(final, schema, name)
        return final

    @property
    def effective_schema(self) -> dict[str, Any]:
        """The schema values are checked against: a param with neither a ``type`` nor an ``enum`` takes
        its default's type (``Param(10)`` or a plain ``10`` takes integers), as the trigger form's input
        for it does; without a default (or with None) anything goes."""
        if "type" in self.schema or "enum" in self.schema or self.value is NOTSET or self.value is None:
            return self.schema
        return {**self.schema, "type": _json_type(self.value)}

    def dump(self) -> dict[str, Any]:
        """A JSON-ready description, for the stored DAG and the trigger form."""
        return {
            "default": None if self.value is NOTSET else self.value,
            "has_default": self.value is not NOTSET,
            "description": self.description,
            "schema": self.schema,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Param:
        default = data.get("default") if data.get("has_default", True) else NOTSET
        return cls(default, description=data.get("description"), schema=dict(data.get("schema") or {}))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def _validate_schema(value: Any, schema: dict[str, Any], name: str) -> None:
    import jsonschema  # imported here: loading DAG files must stay cheap

    try:
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        raise ParamValidationError(f"param {name!r}: {exc.message}") from None
    except jsonschema.SchemaError as exc:
        raise ParamValidationError(f"param {name!r}: invalid schema: {exc.message}") from None


class ParamsDict(MutableMapping[str, Any]):
    """Params by name. Reading gives the plain value; :meth:`validate` checks every one."""

    def __init__(self, initial: Mapping[str, Any] | None = None):
        self._params: dict[str, Param] = {}
        if initial:
            self.update(initial)

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, Param):
            self._params[name] = value
        else:
            self._params[name] = Param(value)

    def __getitem__(self, name: str) -> Any:
        value = self._params[name].value
        return None if value is NOTSET else value

    def __delitem__(self, name: str) -> None:
        del self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"ParamsDict({self._params!r})"

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        items = other._params.items() if isinstance(other, ParamsDict) else dict(other).items()
        for name, value in items:
            self[name] = value
        for name, value in kwargs.items():
            self[name] = value

    def get_param(self, name: str) -> Param:
        return self._params[name]

    def copy(self) -> ParamsDict:
        return ParamsDict({k: copy.copy(p) for k, p in self._params.items()})

    def with_values(self, values: Mapping[str, Any] | None) -> ParamsDict:
        """A copy where ``values`` (a run's conf) override the defaults; unknown names become params."""
        merged = self.copy()
        for name, value in (values or {}).items():
            param = merged._params.get(name)
            merged._params[name] = (
                Param(value, param.description, schema=param.effective_schema) if param else Param(value)
            )
        return merged

    def validate(self) -> dict[str, Any]:
        """Every param's value, checked against its schema; the first invalid one raises."""
        return {name: param.resolve(name=name) for name, param in self._params.items()}

    def dump(self) -> dict[str, dict[str, Any]]:
        return {name: param.dump() for name, param in self._params.items()}
