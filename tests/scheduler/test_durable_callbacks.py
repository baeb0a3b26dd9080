"""A task's callbacks for a try the scheduler ended are kept in the store until a worker ran them.

The scheduler ends a try no worker took from its queue (or whose worker died) and makes the workload
that runs the task's ``on_retry_callback`` / ``on_failure_callback``; it hands that workload to its
executor only once the try's end is committed. A scheduler that dies in between, or whose worker
loses the workload before starting it, must not lose the callback: the next scheduler runs it, once;
one that ran is never run again. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from dagflow.core.clock import utcnow
from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.executors import celery_worker, pending_callbacks
from dagflow.executors.base import EventKind, ExecutorEvent, TaskCallback, Workload, ended_try_callback
from dagflow.executors.inline import InlineExecutor
from dagflow.executors.worker import WorkerSettings
from dagflow.scheduler import liveness
from dagflow.scheduler.job import Scheduler, SchedulerOptions
from dagflow.store import scheduling
from dagflow.store.models import CallbackRequestRow
from tests.scheduler.conftest import Orchestrator

CALLED_BACK = """
import os
from datetime import datetime, timedelta

from dagflow import DAG, task


def record(kind):
    def callback(context):
        ti, exception = context["ti"], context["exception"]
        with open({journal!r}, "a") as journal:
            journal.write(
                f"{{kind}} {{ti.try_number}} {{ti.state}} {{os.getpid()}} "
                f"{{type(exception).__name__}}: {{exception}}\\n"
            )
    return callback


with DAG("called_back", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(
        retries=1,
        retry_delay=timedelta(0),
        on_retry_callback=record("retry"),
        on_failure_callback=record("failure"),
    )
    def stranded():
        return 1

    stranded()
"""
UNHEARD = "no worker took it from its queue"


class SchedulerDied(Exception):
    """The scheduler's process ended here (a kill -9, the machine lost)."""


class Unheard(InlineExecutor):
    """An executor whose workers never take the first try they are handed (it is reported unclaimed
    at the next look), and which runs the rest in this process, as the inline executor does. With ``die``,
    handing it a callback workload is where its scheduler dies; with ``lose``, the first callback
    workload is lost with its worker before it started."""

    def __init__(self, settings: WorkerSettings, *, die: bool = False, lose: bool = False):
        super().__init__(settings)
        self.die, self.lose, self.heard = die, lose, False
        self.unclaimed: list[ExecutorEvent] = []
        self.lost: list[ExecutorEvent] = []

    def submit(self, workloads: Sequence[Workload]) -> None:
        for workload in workloads:
            if workload.task_callback is None and not self.heard:
                self.heard = True
                self.unclaimed.append(ExecutorEvent(EventKind.UNCLAIMED, workload, detail=UNHEARD))
            elif workload.task_callback is not None and self.die:
                raise SchedulerDied(workload.label)
            elif workload.task_callback is not None and self.lose:
                self.lose = False
                self.lost.append(ExecutorEvent(EventKind.LOST, workload, detail="died", started=False))
            else:
                super().submit([workload])

    def events(self) -> list[ExecutorEvent]:
        events = [*self.unclaimed, *self.lost, *super().events()]
        self.unclaimed, self.lost = [], []
        return events


def _scheduler(orchestrator: Orchestrator, **unheard: bool) -> Scheduler:
    settings = orchestrator.make_executor("inline")
    assert isinstance(settings, InlineExecutor)
    executor = Unheard(settings.worker.settings, **unheard)
    settings.close()
    return Scheduler(
        orchestrator.settings(), executor, options=SchedulerOptions(run_processor=False), db=orchestrator.db
    )


def _crash(scheduler: Scheduler) -> None:
    """What a process that dies leaves behind: its job row still running, its heartbeat going stale;
    its file lock (SQLite) and its connections released by the system."""
    if scheduler._sole is not None:
        scheduler._sole.release()
    if scheduler._wakeup is not None:
        scheduler._wakeup.close()
    scheduler.ownership.close()
    with contextlib.suppress(Exception):
        scheduler.executor.close()


def _next_scheduler(orchestrator: Orchestrator) -> None:
    """A new scheduler, once the dead one's heartbeat is older than the health threshold, run until
    every run has ended."""
    time.sleep(0.6)
    options = SchedulerOptions(run_processor=False, health_threshold=0.5, heartbeat_interval=0.1)
    orchestrator.run_until_idle(options, executor="inline")


def _journal(path: Path) -> list[list[str]]:
    return [line.split(" ", 4) for line in path.read_text().splitlines()] if path.exists() else []


def _kept(orchestrator: Orchestrator) -> int:
    with orchestrator.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(CallbackRequestRow)) or 0)


@pytest.fixture
def journal(orchestrator: Orchestrator, tmp_path: Path) -> Path:
    path = tmp_path / "callbacks.txt"
    orchestrator.write("called_back.py", CALLED_BACK, journal=str(path))
    orchestrator.record_dags()
    return path


def test_a_callback_whose_scheduler_died_before_handing_it_over_runs_once_in_the_next_scheduler(
    orchestrator: Orchestrator, journal: Path
):
    run_id = orchestrator.trigger("called_back")
    dead = _scheduler(orchestrator, die=True)
    dead.start()
    dead.run_once()  # "stranded" queued, handed to workers that never take it
    with pytest.raises(SchedulerDied):
        dead.run_once()  # its try ended (committed); the scheduler dies handing over the callback
    _crash(dead)
    assert orchestrator.states("called_back", run_id) == {"stranded": "up_for_retry"}
    assert _kept(orchestrator) == 1 and not journal.exists()

    _next_scheduler(orchestrator)

    assert [line[:3] for line in _journal(journal)] == [["retry", "1", "up_for_retry"]]
    (line,) = _journal(journal)
    assert int(line[3]) == os.getpid()  # the inline executor's worker: this process
    assert line[4] == f"TaskLost: {UNHEARD}"
    assert orchestrator.run("called_back", run_id).state == "success"  # its second try ran
    assert _kept(orchestrator) == 0


def test_a_callback_that_ran_is_not_run_again_by_a_restarted_scheduler(
    orchestrator: Orchestrator, journal: Path
):
    run_id = orchestrator.trigger("called_back")
    dead = _scheduler(orchestrator)
    dead.start()
    for _ in range(3):  # queued; its try ended unclaimed; its callback ran, and its second try
        dead.run_once()
    assert [line[:3] for line in _journal(journal)] == [["retry", "1", "up_for_retry"]]
    assert _kept(orchestrator) == 0
    _crash(dead)

    _next_scheduler(orchestrator)

    assert [line[:3] for line in _journal(journal)] == [["retry", "1", "up_for_retry"]]
    assert orchestrator.run("called_back", run_id).state == "success"


def test_a_callback_lost_with_its_worker_before_it_started_is_handed_out_again(
    orchestrator: Orchestrator, journal: Path
):
    run_id = orchestrator.trigger("called_back")
    scheduler = _scheduler(orchestrator, lose=True)
    scheduler.start()
    try:
        for _ in range(4):  # queued; ended unclaimed; its callback lost, handed out again, and run
            scheduler.run_once()
    finally:
        scheduler.shutdown()

    assert [line[:3] for line in _journal(journal)] == [["retry", "1", "up_for_retry"]]
    assert orchestrator.run("called_back", run_id).state == "success"
    assert _kept(orchestrator) == 0


def test_a_callback_a_celery_worker_could_not_send_is_handed_out_by_a_scheduler(
    orchestrator: Orchestrator, journal: Path
):
    """A Celery pool process's watchdog keeps the callbacks of the try it ended as handed out by the
    try's scheduler, and sends them; when the broker refuses the message, it hands them back to
    nobody, and the next scheduler that looks hands them out."""
    run_id = orchestrator.trigger("called_back")
    key = TIKey("called_back", run_id, "stranded", -1)
    fileloc = str(orchestrator.dags.path / "called_back.py")
    ended = TaskCallback(TaskState.UP_FOR_RETRY, "killed: the worker used more than 1 MB of memory", 1)
    callbacks = ended_try_callback(Workload(key, 1, "a" * 32, fileloc), 1, fileloc, ended)

    def refused(workload: Workload) -> None:
        raise ConnectionRefusedError("the broker is down")

    def adopted_by_another() -> list[Workload]:
        with orchestrator.db.session(write=True) as session:
            adopted = liveness.adopt_or_reset(session, job_id=another, health_threshold=30, now=utcnow())
        return adopted.callbacks

    with orchestrator.db.session(write=True) as session:
        tries_scheduler = scheduling.register_scheduler(session, hostname="here", pid=1, now=utcnow())
        another = scheduling.register_scheduler(session, hostname="there", pid=2, now=utcnow())
        pending_callbacks.record(session, callbacks, handed_out_by=tries_scheduler, now=utcnow())
    assert adopted_by_another() == []  # its scheduler is alive: the message is its to follow
    worker: Any = SimpleNamespace(db=orchestrator.db)

    celery_worker._send_callback(worker, refused, callbacks)

    assert adopted_by_another() == [callbacks]
    assert adopted_by_another() == []  # handed out once
