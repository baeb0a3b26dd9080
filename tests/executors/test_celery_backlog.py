"""When the Celery executor tells the scheduler its workers have a backlog (so the scheduler lets
finished attempts gather before its next pass): messages wait in the broker while others run. Its
messages go to a stand-in for Celery's app here; what counts is what the store says of each token."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import update

from dagflow.core.states import TaskState
from dagflow.executors.celery import CeleryExecutor
from dagflow.remote.celery_app import CelerySettings
from dagflow.store.models import TaskInstanceRow
from tests.executors.conftest import QueuedWork


class RecordingApp:
    """Takes the executor's messages and keeps them (no broker)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    @contextlib.contextmanager
    def producer_or_acquire(self) -> Iterator[None]:
        yield None

    def send_task(self, name: str, *, task_id: str, **_: Any) -> None:
        self.sent.append(task_id)

    def close(self) -> None:
        """Nothing to release."""


def started(queued: QueuedWork, task_id: str) -> None:
    """A worker claimed it."""
    with queued.db.session(write=True) as session:
        session.execute(
            update(TaskInstanceRow)
            .where(TaskInstanceRow.run_id == queued.run_id, TaskInstanceRow.task_id == task_id)
            .values(state=TaskState.RUNNING.value)
        )


def test_messages_waiting_while_others_run_are_a_backlog_and_a_lone_unclaimed_one_is_not(
    queued: QueuedWork,
):
    executor = CeleryExecutor(CelerySettings("redis://127.0.0.1:6379/0"), queued.db.url, app=RecordingApp())
    try:
        chain = queued.workloads(["noop_0"])
        executor.submit(chain)
        assert executor.events() == []
        assert not executor.has_backlog(1)  # the next task of a chain, not claimed yet

        executor.submit(queued.workloads(["noop_1", "noop_2", "noop_3"]))
        started(queued, "noop_0")
        started(queued, "noop_1")
        executor.events()
        assert executor.has_backlog(4)  # two run, two wait for a worker

        started(queued, "noop_2")
        started(queued, "noop_3")
        executor.events()
        assert not executor.has_backlog(4)  # all taken: the next outcome is followed up at once
    finally:
        executor.close()
