"""Fixtures of the executor tests: task instances queued in a fresh store, as the scheduler queues them.

``queued`` records one DAG file (tasks ``noop_0`` .. ``noop_{N-1}`` that return nothing,
``short_0`` .. ``short_9`` that sleep a tenth of a second, ``sleepy`` that sleeps a minute in small
steps, ``timed`` that sleeps past its one-second ``execution_timeout``, ``prompt`` that returns at
once within its half-second ``execution_timeout``, ``doomed`` that sleeps a minute and notes its
failure callbacks in ``callbacks.txt`` beside the DAG file), triggers a run of it and hands back a
:class:`QueuedWork`: ``workloads(...)`` queues task instances with fresh tokens and returns their
workloads; ``state(task_id)`` and ``row(task_id)`` read back what the store recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from dagflow import actions
from dagflow.core.keys import TIKey
from dagflow.core.states import TaskState
from dagflow.executors.base import Workload
from dagflow.executors.worker import WorkerSettings
from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.store.engine import Database
from dagflow.store.models import TaskInstanceRow, TaskInstanceTryRow
from tests.conftest import DagsFolder

TI = TaskInstanceRow
TRY = TaskInstanceTryRow
NOOPS = 50

DAG_FILE = """
import os
import time
from datetime import datetime, timedelta

from dagflow import DAG
from dagflow.operators.python import PythonOperator


def nothing():
    return None


def nap(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)


def note_failure(context):
    ti = context["ti"]
    with open(os.path.join(os.path.dirname(__file__), "callbacks.txt"), "a") as journal:
        journal.write(f"failure {{ti.try_number}} {{ti.state}} {{context['exception']}}\\n")


with DAG("work", schedule=None, start_date=datetime(2024, 1, 1)):
    for i in range({noops}):
        PythonOperator(task_id=f"noop_{{i}}", python_callable=nothing)
    for i in range(10):
        PythonOperator(task_id=f"short_{{i}}", python_callable=nap, op_args=[0.1])
    PythonOperator(task_id="sleepy", python_callable=nap, op_args=[60])
    PythonOperator(
        task_id="prompt", python_callable=nothing, execution_timeout=timedelta(seconds=0.5)
    )
    PythonOperator(
        task_id="timed", python_callable=nap, op_args=[30], execution_timeout=timedelta(seconds=1)
    )
    PythonOperator(
        task_id="doomed", python_callable=nap, op_args=[60], on_failure_callback=note_failure
    )
"""


@dataclass
class QueuedWork:
    """One triggered run of the ``work`` DAG, whose task instances the test queues."""

    db: Database
    fileloc: str
    run_id: str
    worker_settings: WorkerSettings

    def key(self, task_id: str) -> TIKey:
        return TIKey("work", self.run_id, task_id)

    def workloads(self, task_ids: Sequence[str], *, timeout: float | None = None) -> list[Workload]:
        """Queue these task instances for their first try, each with a fresh token."""
        workloads = [
            Workload(self.key(t), 1, uuid.uuid4().hex, self.fileloc, execution_timeout=timeout)
            for t in task_ids
        ]
        with self.db.session(write=True) as session:
            for workload in workloads:
                key = workload.key
                session.execute(
                    update(TI)
                    .where(TI.dag_id == key.dag_id, TI.run_id == key.run_id, TI.task_id == key.task_id)
                    .values(state=TaskState.QUEUED.value, try_number=1, attempt_token=workload.token)
                )
        return workloads

    def row(self, task_id: str) -> TaskInstanceRow:
        with self.db.session() as session:
            found = session.scalars(select(TI).where(TI.run_id == self.run_id, TI.task_id == task_id)).one()
            return found

    def state(self, task_id: str) -> str | None:
        return self.row(task_id).state

    def tries(self, task_id: str) -> list[tuple[int, str]]:
        """The try history of a task instance: (try number, state), in order."""
        with self.db.session() as session:
            rows = session.execute(
                select(TRY.try_number, TRY.state)
                .where(TRY.run_id == self.run_id, TRY.task_id == task_id)
                .order_by(TRY.try_number)
            )
            return [(number, state) for number, state in rows]


@pytest.fixture
def queued(database: Database, dags_folder: DagsFolder, dagflow_home: Path) -> QueuedWork:
    return queued_work(database, dags_folder, dagflow_home)


def queued_work(database: Database, dags_folder: DagsFolder, dagflow_home: Path) -> QueuedWork:
    """The ``work`` DAG recorded in ``database`` and a run of it triggered."""
    path = dags_folder.write("work.py", DAG_FILE.format(noops=NOOPS))
    settings = ProcessorSettings(database.url, str(dags_folder.path), paused_at_creation=False)
    DagFileProcessor(settings, db=database).scan()
    with database.session(write=True) as session:
        run_id = actions.trigger_dag(session, "work", owner="test").run_id
    worker_settings = WorkerSettings(database.url, str(dagflow_home / "logs"), heartbeat_interval=0.5)
    return QueuedWork(database, str(path), run_id, worker_settings)
