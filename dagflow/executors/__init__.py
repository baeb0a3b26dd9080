"""Executors: where task instances run, behind one small interface (:mod:`dagflow.executors.base`).

Chosen by name with ``[core] executor``: ``local`` (worker processes on this machine, the default)
``inline`` (in the scheduler's own process, for tests and debugging) or ``celery`` (``dagflow celery
worker`` processes on any machine, through a Redis or RabbitMQ broker). Another backend adds its
factory to :data:`EXECUTORS`.
"""

from __future__ import annotations

from collections.abc import Callable

from dagflow.config import Settings
from dagflow.exceptions import DagflowConfigError
from dagflow.executors.base import EventKind, Executor, ExecutorEvent, Workload

#: Builds an executor from the settings and the number of workers asked for on the command line.
ExecutorFactory = Callable[[Settings, "int | None"], Executor]


def _local(settings: Settings, workers: int | None) -> Executor:
    from dagflow.executors.local import LocalExecutor
    from dagflow.executors.worker import WorkerSettings

    memory = settings.get("worker", "max_memory_mb")
    fixed = workers or settings.getint("worker", "processes") or None
    return LocalExecutor(
        WorkerSettings.from_settings(settings),
        workers=fixed,
        # as Airflow's local executor, up to [core] parallelism attempts at once, unless told how many
        max_workers=fixed or settings.getint("core", "parallelism"),
        memory_limit_mb=float(memory) if memory else None,
        timeout_grace=settings.getfloat("worker", "timeout_grace"),
    )


def _inline(settings: Settings, workers: int | None) -> Executor:
    from dagflow.executors.inline import InlineExecutor
    from dagflow.executors.worker import WorkerSettings

    return InlineExecutor(WorkerSettings.from_settings(settings))


def _celery(settings: Settings, workers: int | None) -> Executor:
    from dagflow.executors.celery import CeleryExecutor
    from dagflow.remote.celery_app import CelerySettings

    return CeleryExecutor(
        CelerySettings.from_settings(settings),
        settings.database_url,
        slots=settings.getint("core", "parallelism"),
    )


#: The executors ``[core] executor`` can name.
EXECUTORS: dict[str, ExecutorFactory] = {"celery": _celery, "inline": _inline, "local": _local}


def executor_name(settings: Settings) -> str:
    """The executor ``[core] executor`` names; ``DagflowConfigError`` (one line) if dagflow has none by
    that name. Checking it costs nothing, so commands check it before they start anything."""
    name = str(settings.get("core", "executor") or "local").strip().lower()
    if name not in EXECUTORS:
        known = ", ".join(sorted(EXECUTORS))
        raise DagflowConfigError(
            f"[core] executor = {name!r} is not an executor dagflow knows; use one of: {known}"
        )
    return name


def make_executor(settings: Settings, *, workers: int | None = None) -> Executor:
    """The executor ``[core] executor`` names, ready to take work (``workers``: the local pool's size,
    overriding ``[worker] processes``)."""
    return EXECUTORS[executor_name(settings)](settings, workers)


__all__ = [
    "EXECUTORS",
    "EventKind",
    "Executor",
    "ExecutorEvent",
    "Workload",
    "executor_name",
    "make_executor",
]
