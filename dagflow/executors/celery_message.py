"""The message that carries one workload to a Celery worker, as JSON."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.executors.base import TaskCallback, Workload
from dagflow.remote.celery_app import AUTHORING_DEFAULT_QUEUE, TASK_NAME, CelerySettings


def send(app: Any, workload: Workload, settings: CelerySettings, *, producer: Any = None) -> None:
    """Send ``workload`` to the Celery workers once (no retry: the caller decides what a refusal
    means), on its task's queue, with its claim token as the Celery task id. What Celery shows of
    the message where it lists tasks (events, Flower) is the task instance and try, not a repr of the
    whole message, which it would otherwise build for each one."""
    app.send_task(
        TASK_NAME,
        args=[to_message(workload, settings.dags_folder)],
        task_id=workload.token,
        queue=settings.queue_of(workload.queue),
        producer=producer,
        retry=False,
        argsrepr=workload.label,
        kwargsrepr="",
    )


def to_message(workload: Workload, dags_folder: str) -> dict[str, Any]:
    """The workload as the JSON a worker receives, with the scheduler's DAGs folder: a worker whose
    DAG files live elsewhere (a checkout of its own) finds the same file under its own folder."""
    key = workload.key
    return {
        "dag_id": key.dag_id,
        "run_id": key.run_id,
        "task_id": key.task_id,
        "map_index": key.map_index,
        "try_number": workload.try_number,
        "token": workload.token,
        "fileloc": workload.fileloc,
        "dags_folder": dags_folder,
        "execution_timeout": workload.execution_timeout,
        "priority_weight": workload.priority_weight,
        "dag_callback": workload.dag_callback,
        "task_callback": _callback_message(workload.task_callback),
        "compensation": workload.compensation,
        "queue": workload.queue,
        "queued_by": workload.queued_by,
    }


def from_message(message: dict[str, Any], dags_folder: str) -> Workload:
    """The workload a message carries, its DAG file found under this worker's ``dags_folder``."""
    key = TIKey(message["dag_id"], message["run_id"], message["task_id"], int(message["map_index"]))
    return Workload(
        key,
        int(message["try_number"]),
        str(message["token"]),
        local_fileloc(str(message["fileloc"]), str(message.get("dags_folder") or ""), dags_folder),
        execution_timeout=message.get("execution_timeout"),
        priority_weight=int(message.get("priority_weight") or 1),
        dag_callback=message.get("dag_callback"),
        task_callback=_callback(message.get("task_callback")),
        compensation=bool(message.get("compensation")),
        queue=str(message.get("queue") or AUTHORING_DEFAULT_QUEUE),
        queued_by=_job_id(message.get("queued_by")),
    )


def _callback_message(callback: TaskCallback | None) -> dict[str, Any] | None:
    if callback is None:
        return None
    return {
        "state": callback.state.value,
        "reason": callback.reason,
        "max_tries": callback.max_tries,
        "start_date": callback.start_date.isoformat() if callback.start_date else None,
        "end_date": callback.end_date.isoformat() if callback.end_date else None,
    }


def _callback(message: dict[str, Any] | None) -> TaskCallback | None:
    """A task callback's message (None in messages without one, or sent before they carried one)."""
    if not message:
        return None
    start, end = message.get("start_date"), message.get("end_date")
    return TaskCallback(
        state=TaskState(message["state"]),
        reason=str(message.get("reason") or ""),
        max_tries=int(message.get("max_tries") or 0),
        start_date=datetime.fromisoformat(start) if start else None,
        end_date=datetime.fromisoformat(end) if end else None,
    )


def _job_id(value: object) -> int | None:
    """A message's scheduler job id (None in messages sent before they carried one)."""
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def local_fileloc(fileloc: str, their_folder: str, our_folder: str) -> str:
    """Where a DAG file the scheduler knows as ``fileloc`` is on this machine: the same path relative
    to this worker's DAGs folder (a checkout of its own), else the same path (a shared volume)."""
    if their_folder and our_folder:
        try:
            relative = Path(fileloc).relative_to(their_folder)
        except ValueError:
            return fileloc
        ours = Path(our_folder) / relative
        if ours.exists():
            return str(ours)
    return fileloc
