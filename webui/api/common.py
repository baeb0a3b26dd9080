"""Helpers shared by the API routes: query parameters, request bodies and pagination, all validated."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, request

MAX_LIMIT = 1000


def int_param(name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"query parameter {name!r} must be an integer, got {raw!r}")
    if not low <= value <= high:
        abort(400, description=f"query parameter {name!r} must be between {low} and {high}, got {value}")
    return value


def page_params() -> tuple[int, int]:
    return int_param("offset", 0), int_param("limit", 100, low=1, high=MAX_LIMIT)


def bool_param(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    abort(400, description=f"query parameter {name!r} must be true or false, got {raw!r}")


def datetime_param(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    return parse_datetime(raw, name)


def parse_datetime(raw: Any, name: str) -> datetime:
    if not isinstance(raw, str):
        abort(400, description=f"{name!r} must be an ISO 8601 string")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        abort(400, description=f"{name!r} must be an ISO 8601 date-time, got {raw!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def json_body() -> dict[str, Any]:
    """The request's JSON object body (an empty body is an empty object)."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the request body must be a JSON object")
    return body


def body_bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        abort(400, description=f"{name!r} must be true or false")
    return value
