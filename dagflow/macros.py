"""What ``{{ macros.* }}`` offers in templates (and what ``from dagflow import macros`` gives), as
Airflow's ``macros`` module: ``ds_add``, ``ds_format``, ``ds_format_locale``,
``datetime_diff_for_humans``, and the modules and names ``datetime``, ``timedelta``, ``dateutil``,
``time``, ``uuid``, ``random`` (the function ``random.random``), ``json`` and ``yaml``.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from random import random
from typing import Any

import dateutil
import dateutil.relativedelta

__all__ = [
    "datetime",
    "datetime_diff_for_humans",
    "dateutil",
    "ds_add",
    "ds_format",
    "ds_format_locale",
    "json",
    "random",
    "time",
    "timedelta",
    "uuid",
]


def ds_add(ds: str, days: int) -> str:
    """``ds_add("2024-01-05", -4)`` gives ``"2024-01-01"``: a ``YYYY-MM-DD`` date moved by ``days``."""
    if not days:
        return str(ds)
    return (datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds_format("2024-01-05", "%Y-%m-%d", "%m-%d-%y")`` gives ``"01-05-24"``."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def ds_format_locale(ds: str, input_format: str, output_format: str, locale: Any = None) -> str:
    """``ds`` in a Babel date format (``"EEEE dd MMMM yyyy"``) and locale (default ``en_US``); needs Babel."""
    try:
        from babel.dates import format_datetime
    except ImportError:
        raise ImportError("macros.ds_format_locale needs the Babel package: pip install Babel") from None
    return str(
        format_datetime(
            datetime.strptime(str(ds), input_format), format=output_format, locale=locale or "en_US"
        )
    )


_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("week", 7 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
    ("second", 1),
)


def _aware(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def datetime_diff_for_humans(dt: Any, since: datetime | None = None) -> str:
    """How far ``dt`` is from ``since`` (from now without it), in words: ``"3 days ago"``,
    ``"in 2 hours"``, or against ``since`` ``"1 week after"`` / ``"5 minutes before"``.

    Uses pendulum's ``diff_for_humans`` when pendulum is installed, as Airflow does.
    """
    try:
        import pendulum
    except ImportError:
        return _diff_for_humans(_aware(dt), None if since is None else _aware(since))
    other = None if since is None else pendulum.instance(_aware(since))
    return str(pendulum.instance(_aware(dt)).diff_for_humans(other))


def _diff_for_humans(dt: datetime, since: datetime | None) -> str:
    seconds = (dt - (since or datetime.now(UTC))).total_seconds()
    size = abs(seconds)
    if size < 10:
        amount = "a few seconds"
    else:
        unit, length = next((u, n) for u, n in _UNITS if size >= n)
        count = int(size // length)
        amount = f"{count} {unit}{'s' if count != 1 else ''}"
    if since is None:
        return f"in {amount}" if seconds > 0 else f"{amount} ago"
    return f"{amount} after" if seconds > 0 else f"{amount} before"


class MacrosNamespace:
    """The ``macros`` object of the template context."""

    datetime = datetime
    timedelta = timedelta
    time = time
    uuid = uuid
    json = json
    dateutil = dateutil
    random = staticmethod(random)
    ds_add = staticmethod(ds_add)
    ds_format = staticmethod(ds_format)
    ds_format_locale = staticmethod(ds_format_locale)
    datetime_diff_for_humans = staticmethod(datetime_diff_for_humans)

    def __getattr__(self, name: str) -> Any:
        if name == "yaml":
            import yaml

            return yaml
        raise AttributeError(f"macros has no {name!r}")


MACROS = MacrosNamespace()


def __getattr__(name: str) -> Any:
    """``macros.yaml``: PyYAML, imported when first used (as Airflow offers it)."""
    if name == "yaml":
        import yaml

        return yaml
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
