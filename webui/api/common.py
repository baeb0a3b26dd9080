"""Helpers shared by the API routes: query parameters, request bodies and pagination, all validated.

Every helper answers bad input with a 400 naming the parameter, so a route never reaches the store
with a value the store would refuse (a NUL character, a number out of range, a date out of range).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from flask import abort, request

from dagflow.actions import RunExists
from dagflow.exceptions import DagflowError, DagNotFound, TaskNotFound
from webui.api.openapi import body_fields

MAX_LIMIT = 1000
#: The largest integer a store column holds (PostgreSQL's ``integer``).
MAX_INT = 2**31 - 1
#: Ids in the store are at most this long.
MAX_ID = 250
T = TypeVar("T")


def bad_request(message: str) -> NoReturn:
    abort(400, description=message)


def int_param(name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        bad_request(f"query parameter {name!r} must be an integer, got {raw!r}")
    if not low <= value <= high:
        bad_request(f"query parameter {name!r} must be between {low} and {high}, got {value}")
    return value


def page_params() -> tuple[int, int]:
    return int_param("offset", 0), int_param("limit", 100, low=1, high=MAX_LIMIT)


def map_index_param() -> int:
    return int_param("map_index", -1, low=-1, high=MAX_INT)


def bool_param(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    bad_request(f"query parameter {name!r} must be true or false, got {raw!r}")


def datetime_param(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    return parse_datetime(raw, name)


def parse_datetime(raw: Any, name: str) -> datetime:
    """An ISO 8601 date-time in UTC (one without a timezone is taken as UTC)."""
    if not isinstance(raw, str):
        bad_request(f"{name!r} must be an ISO 8601 string")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        bad_request(f"{name!r} must be an ISO 8601 date-time between the years 1 and 9999, got {raw!r}")


def json_body() -> dict[str, Any]:
    """The request's JSON object body (an empty body is an empty object)."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        bad_request("the request body must be a JSON object (Content-Type: application/json)")
    check_storable(body, "body")
    check_fields(body)
    return body


_RULE_ARGUMENT = re.compile(r"<(?:[^:>]+:)?([a-z_]+)>")  # converters with arguments too: <int(max=9):n>


def check_fields(body: dict[str, Any]) -> None:
    """Refuse (422) a body field the OpenAPI document does not name for this operation: a typo such as
    ``confx`` must not be dropped silently."""
    rule = request.url_rule.rule if request.url_rule is not None else ""
    path = _RULE_ARGUMENT.sub(r"{\1}", rule.removeprefix("/api/v1"))
    allowed = body_fields(request.method, path)
    if allowed is None:
        return
    unknown = sorted(set(body) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed)) or "none"
        abort(422, description=f"unknown field {unknown[0]!r} in the request body (expected: {expected})")


def check_storable(value: Any, where: str) -> None:
    """Refuse what no store column can hold: NUL characters, lone surrogates, NaN and infinities."""
    if isinstance(value, str):
        if "\x00" in value:
            bad_request(f"{where} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            bad_request(f"{where} is not valid Unicode")
    elif isinstance(value, float) and not math.isfinite(value):
        bad_request(f"{where} must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, where)
            check_storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{where}[{index}]")


def body_bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        bad_request(f"{name!r} must be true or false")
    return value


def body_str(
    body: dict[str, Any], name: str, *, required: bool = False, max_length: int = MAX_ID
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            bad_request(f"{name!r} is required")
        return None
    if not isinstance(value, str) or len(value) > max_length:
        bad_request(f"{name!r} must be a string of at most {max_length} characters")
    return value


def body_int(body: dict[str, Any], name: str, *, low: int = 0, high: int = MAX_INT) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bad_request(f"{name!r} must be an integer between {low} and {high}")
    return value


def body_choice(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in choices:
        bad_request(f"{name!r} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def body_str_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= MAX_ID for v in value):
        bad_request(f"{name!r} must be a list of ids")
    return list(value)


def calling_action(action: Callable[[], T]) -> T:
    """Run a store action, answering its refusals as HTTP errors: 404 unknown, 409 taken, else 400."""
    try:
        return action()
    except (DagNotFound, TaskNotFound) as exc:
        abort(404, description=str(exc))
    except RunExists as exc:
        abort(409, description=str(exc))
    except DagflowError as exc:
        abort(400, description=str(exc))
