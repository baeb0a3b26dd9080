"""What the Celery workers are doing now, asked of them through the broker (Celery's inspect)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dagflow.exceptions import BrokerUnavailable


@dataclass(frozen=True)
class RunningAttempt:
    """An attempt a worker runs now."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    celery_task_id: str

    def label(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} {self.run_id} try {self.try_number}"


@dataclass(frozen=True)
class WorkerStatus:
    """One live Celery worker: its name, the queues it consumes, its pool size and what it runs."""

    name: str
    queues: list[str]
    concurrency: int | None
    running: list[RunningAttempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "queues": self.queues,
            "concurrency": self.concurrency,
            "running": [{**attempt.__dict__, "label": attempt.label()} for attempt in self.running],
        }


def workers_status(app: Any, *, timeout: float = 1.0) -> list[WorkerStatus]:
    """Every worker that answers within ``timeout`` seconds, by name; ``BrokerUnavailable`` (one line)
    if the broker cannot be reached."""
    try:
        with app.connection_for_read() as connection:
            # fail fast, not retry for ever
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=timeout)
        # each question waits out the timeout (no one knows how many workers will answer): ask at once
        with ThreadPoolExecutor(3) as pool:
            asked = [
                pool.submit(_ask, app, question, timeout) for question in ("active_queues", "active", "stats")
            ]
            queues, active, stats = (future.result() for future in asked)
    except Exception as exc:  # kombu's OperationalError and the socket errors under it
        raise BrokerUnavailable(f"the Celery broker cannot be reached: {exc}") from None
    names = sorted(set(queues) | set(active) | set(stats))
    return [
        WorkerStatus(
            name=name,
            queues=sorted(q["name"] for q in queues.get(name, []) if not q.get("exclusive")),
            concurrency=_concurrency(stats.get(name)),
            running=[a for a in (_attempt(task) for task in active.get(name, [])) if a is not None],
        )
        for name in names
    ]


def _ask(app: Any, question: str, timeout: float) -> dict[str, Any]:
    """One of Celery's inspect questions, put to every worker: their answers by worker name."""
    return dict(getattr(app.control.inspect(timeout=timeout), question)() or {})


def _concurrency(stats: dict[str, Any] | None) -> int | None:
    pool = (stats or {}).get("pool") or {}
    value = pool.get("max-concurrency")
    return int(value) if isinstance(value, int) else None


def _attempt(task: dict[str, Any]) -> RunningAttempt | None:
    args = task.get("args") or []
    message = args[0] if args and isinstance(args[0], dict) else None
    if message is None:
        return None
    return RunningAttempt(
        dag_id=str(message.get("dag_id")),
        run_id=str(message.get("run_id")),
        task_id=str(message.get("task_id")),
        map_index=int(message.get("map_index", -1)),
        try_number=int(message.get("try_number", 0)),
        celery_task_id=str(task.get("id")),
    )
