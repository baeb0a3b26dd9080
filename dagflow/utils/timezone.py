"""Aware datetimes, as Airflow's ``airflow.utils.timezone`` (``airflow.sdk.timezone``) offers them.

DAG files use these to build dates without thinking about zones: ``timezone.datetime(2024, 1, 1)``
is midnight UTC, ``timezone.utcnow()`` is now in UTC. dagflow's default zone is UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

utc = pendulum.UTC
TIMEZONE = utc


def utcnow() -> dt.datetime:
    """Now, in UTC, aware."""
    return dt.datetime.now(tz=utc)


def datetime(*args: Any, **kwargs: Any) -> dt.datetime:
    """``datetime.datetime(...)`` in UTC unless ``tzinfo`` is given."""
    kwargs.setdefault("tzinfo", TIMEZONE)
    return dt.datetime(*args, **kwargs)


def is_localized(value: dt.datetime) -> bool:
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    return value.utcoffset() is None


def make_aware(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """A naive ``value`` read as wall time in ``timezone`` (UTC by default); an aware one is refused."""
    if is_localized(value):
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    return value.replace(tzinfo=timezone or TIMEZONE)


def make_naive(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """An aware ``value`` as naive wall time in ``timezone`` (UTC by default)."""
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    return value.astimezone(timezone or TIMEZONE).replace(tzinfo=None)


def convert_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC (a naive one read as UTC), as a pendulum DateTime."""
    if value is None:
        return None
    if is_naive(value):
        value = make_aware(value)
    return pendulum.instance(value).in_timezone(utc)


def parse(string: str, timezone: dt.tzinfo | str | None = None) -> Any:
    """An ISO 8601 (or looser) date text as a pendulum DateTime, in ``timezone`` when it names none."""
    return pendulum.parse(string, tz=timezone or TIMEZONE, strict=False)
