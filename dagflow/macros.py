"""What ``{{ macros.* }}`` offers in templates, as in Airflow."""

from __future__ import annotations

import json
import random as _random
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

__all__ = ["datetime", "ds_add", "ds_format", "json", "random", "time", "timedelta", "uuid"]

random = _random.random


def ds_add(ds: str, days: int) -> str:
    """``ds_add("2024-01-05", -4)`` gives ``"2024-01-01"``."""
    if not days:
        return str(ds)
    return (datetime.strptime(ds, "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds_format("2024-01-05", "%Y-%m-%d", "%m-%d-%y")`` gives ``"01-05-24"``."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


class MacrosNamespace:
    """The ``macros`` object of the template context."""

    datetime = datetime
    timedelta = timedelta
    time = time
    uuid = uuid
    json = json
    random = staticmethod(random)
    ds_add = staticmethod(ds_add)
    ds_format = staticmethod(ds_format)

    def __getattr__(self, name: str) -> Any:
        if name == "dateutil":
            import dateutil

            return dateutil
        raise AttributeError(f"macros has no {name!r}")


MACROS = MacrosNamespace()
