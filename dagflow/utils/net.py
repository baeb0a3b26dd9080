"""This machine's name, as the scheduler, its workers and the Celery workers record it on job rows
and tries: ``[core] hostname_callable``, as in Airflow (``module.function`` or ``module:function``,
called with no arguments), else the host name the operating system gives."""

from __future__ import annotations

import importlib
import socket
from collections.abc import Callable

from dagflow.config import Settings
from dagflow.exceptions import DagflowConfigError


def hostname(settings: Settings) -> str:
    """What this machine is called (see the module docstring)."""
    return str(hostname_callable(settings)())


def hostname_callable(settings: Settings) -> Callable[[], object]:
    """``[core] hostname_callable`` resolved; a clear error names the setting if it cannot be."""
    path = str(settings.get("core", "hostname_callable", "") or "").strip()
    if not path:
        return socket.gethostname
    module_name, _, name = path.rpartition(":") if ":" in path else path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name) if module_name else None
    except (ImportError, AttributeError) as exc:
        found = None
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = "not a function"
    if not callable(found):
        raise DagflowConfigError(
            f"[core] hostname_callable = {path!r} ({settings.source('core', 'hostname_callable')}): "
            f"{reason}; give a function as module.function or module:function"
        )
    return found
