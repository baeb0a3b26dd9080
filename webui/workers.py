"""What the Workers page and ``/api/v1/workers`` show: the live Celery workers, asked through the broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dagflow.exceptions import DagflowError
from dagflow.remote.celery_app import CelerySettings, make_app
from dagflow.remote.inspect import WorkerStatus, workers_status
from webui.db import settings

#: How long the page waits for the workers' answers (seconds).
INSPECT_TIMEOUT = 1.0


@dataclass(frozen=True)
class WorkersView:
    """The executor in force, its Celery workers (none for another executor) and why none, if so."""

    executor: str
    workers: list[WorkerStatus] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "executor": self.executor,
            "workers": [w.to_json() for w in self.workers],
            "error": self.error,
        }


def current_workers() -> WorkersView:
    """Ask the broker only when ``[core] executor`` is ``celery``: other executors have no such workers."""
    config = settings()
    executor = str(config.get("core", "executor") or "local").strip().lower()
    if executor != "celery":
        return WorkersView(executor)
    app = None
    try:
        app = make_app(CelerySettings.from_settings(config))
        return WorkersView(executor, workers_status(app, timeout=INSPECT_TIMEOUT))
    except DagflowError as exc:
        return WorkersView(executor, error=str(exc))
    finally:
        if app is not None:
            app.close()
