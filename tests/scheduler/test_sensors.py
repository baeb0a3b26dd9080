"""Sensors under the scheduler daemon: the real metadata store, DAG processor and scheduler, with the
inline executor (``workers``: the local executor's worker processes, with ``DAGFLOW_TEST_EXECUTOR=local``).

A sensor in reschedule mode gives its worker back between pokes (its task instance waits as
``up_for_reschedule``) and finishes in the try it started, with one try-history row; its timeout
counts from that try's first poke, which the worker reads back from the store. An
ExternalTaskSensor reads another DAG's run from the store.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dagflow import actions
from dagflow.config import Settings
from dagflow.executors.base import Executor
from dagflow.executors.inline import InlineExecutor
from dagflow.executors.local import LocalExecutor
from dagflow.executors.worker import WorkerSettings
from dagflow.runtime.tasklog import attempt_log_path
from dagflow.scheduler.job import Scheduler, SchedulerOptions
from dagflow.scheduler.processor import DagFileProcessor, ProcessorSettings
from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow, TaskInstanceRow, TaskInstanceTryRow
from tests.conftest import DagsFolder
from tests.scheduler.conftest import at, default_executor

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
#: A hang, not a slow machine: every wait fails the test with the states it saw after this long.
DEADLINE = 60.0


@dataclass
class Deployment:
    """One store, one DAGs folder, and schedulers started on them; reads back what happened."""

    db: Database
    database_url: str
    dags: DagsFolder
    seen: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def record_dags(self) -> None:
        """Parse the DAGs folder into the store (unpaused), as the DAG processor does."""
        settings = ProcessorSettings(self.database_url, str(self.dags.path), paused_at_creation=False)
        DagFileProcessor(settings, db=self.db).scan()

    def trigger(self, dag_id: str) -> None:
        with self.db.session(write=True) as session:
            actions.trigger_dag(session, dag_id, logical_date=LOGICAL_DATE, owner="test")

    @contextlib.contextmanager
    def scheduler(self, *, workers: int) -> Iterator[Scheduler]:
        settings = Settings.load()
        worker = WorkerSettings(self.database_url, str(settings.log_folder), heartbeat_interval=0.5)
        options = SchedulerOptions(run_processor=False, poll_interval=0.05, max_wait=0.5)
        executor: Executor = InlineExecutor(worker)
        if default_executor() == "local":
            executor = LocalExecutor(worker, workers=workers)
        scheduler = Scheduler(settings, executor, options=options, db=self.db)
        scheduler.start()
        try:
            yield scheduler
        finally:
            scheduler.shutdown()

    def drive(self, scheduler: Scheduler, until: Callable[[], bool] | None = None) -> None:
        """Run scheduler passes until ``until()`` holds (default: nothing left to do), noting after
        each pass the state of every task instance in :attr:`seen`."""
        done = until or (lambda: not self.active_runs() and not scheduler.state.in_flight)
        deadline = time.monotonic() + DEADLINE
        while True:
            scheduler.run_once()
            self._observe()
            if done():
                return
            assert time.monotonic() < deadline, f"not done within {DEADLINE:g}s; seen: {self.seen}"
            scheduler.wait()

    def _observe(self) -> None:
        with self.db.session() as session:
            for dag_id, task_id, state in session.execute(
                select(TaskInstanceRow.dag_id, TaskInstanceRow.task_id, TaskInstanceRow.state)
            ):
                self.seen.setdefault((dag_id, task_id), set()).add(state)

    def active_runs(self) -> int:
        with self.db.session() as session:
            query = (
                select(func.count()).select_from(DagRunRow).where(DagRunRow.state.in_(("queued", "running")))
            )
            return int(session.scalar(query) or 0)

    def run_state(self, dag_id: str) -> str:
        with self.db.session() as session:
            return str(session.scalar(select(DagRunRow.state).where(DagRunRow.dag_id == dag_id)))

    def ti(self, dag_id: str, task_id: str) -> TaskInstanceRow:
        with self.db.session() as session:
            query = select(TaskInstanceRow).where(
                TaskInstanceRow.dag_id == dag_id, TaskInstanceRow.task_id == task_id
            )
            return session.scalars(query).one()

    def tries(self, dag_id: str, task_id: str) -> list[TaskInstanceTryRow]:
        with self.db.session() as session:
            query = select(TaskInstanceTryRow).where(
                TaskInstanceTryRow.dag_id == dag_id, TaskInstanceTryRow.task_id == task_id
            )
            return list(session.scalars(query.order_by(TaskInstanceTryRow.try_number)))


@pytest.fixture
def deployment(
    database_url: str, dags_folder: DagsFolder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    monkeypatch.setenv("DAGFLOW__CORE__DAGS_FOLDER", str(dags_folder))
    db = Database(database_url)
    yield Deployment(db, database_url, dags_folder)
    db.dispose()


FREES_THE_WORKER = """
import time
from datetime import datetime
from pathlib import Path

from dagflow import DAG
from dagflow.operators import PythonOperator
from dagflow.sensors import PythonSensor

FOLDER = Path({folder!r})


def ready():
    (FOLDER / "poked").touch()
    return (FOLDER / "written").exists()


def write():
    # Only runs on the single worker if the sensor let go of it; then the sensor must have poked.
    deadline = time.monotonic() + 30
    while not (FOLDER / "poked").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the sensor never poked before the writer ran")
        time.sleep(0.05)
    (FOLDER / "written").write_text("x")


with DAG("frees_the_worker", schedule=None, start_date=datetime(2024, 1, 1)):
    PythonSensor(
        task_id="wait",
        python_callable=ready,
        mode="reschedule",
        poke_interval=0.05,
        timeout=45,
        retries=2,
        priority_weight=10,
    )
    PythonOperator(task_id="write", python_callable=write)
"""


def test_a_rescheduled_sensor_frees_the_only_worker_and_finishes_in_its_first_try(
    deployment: Deployment, tmp_path: Path
):
    deployment.dags.write("frees.py", FREES_THE_WORKER.format(folder=str(tmp_path)))
    deployment.record_dags()
    deployment.trigger("frees_the_worker")
    with deployment.scheduler(workers=1) as scheduler:
        deployment.drive(scheduler)

    assert deployment.run_state("frees_the_worker") == "success"
    assert "up_for_reschedule" in deployment.seen[("frees_the_worker", "wait")]
    wait, write = deployment.ti("frees_the_worker", "wait"), deployment.ti("frees_the_worker", "write")
    assert (wait.state, wait.try_number, write.state) == ("success", 1, "success")
    [only_try] = deployment.tries("frees_the_worker", "wait")
    assert (only_try.try_number, only_try.state) == (1, "success")
    assert (
        at(only_try.start_date) < at(write.start_date) < at(wait.end_date)
    )  # the writer ran between its pokes
    log = attempt_log_path(Settings.load().log_folder, "frees_the_worker", wait.run_id, "wait", -1, 1)
    assert "Rescheduling" in log.read_text()  # every poke of the try writes to the try's one log


NEVER_READY = """
from datetime import datetime
from pathlib import Path

from dagflow import DAG
from dagflow.exceptions import FailTask
from dagflow.sensors import PythonSensor

POKES = Path({pokes!r})


def never():
    with POKES.open("a") as pokes:
        pokes.write("poke\\n")
    if len(POKES.read_text().splitlines()) > 40:
        raise FailTask("poked 40 times: the timeout never fired")
    return False


with DAG("never_ready", schedule=None, start_date=datetime(2024, 1, 1)):
    PythonSensor(
        task_id="wait", python_callable=never, mode="reschedule", poke_interval=0.05, timeout=0.25, retries=2
    )
"""


def test_a_rescheduled_sensor_times_out_from_its_first_poke_without_retrying(
    deployment: Deployment, tmp_path: Path
):
    pokes = tmp_path / "pokes.txt"
    deployment.dags.write("never.py", NEVER_READY.format(pokes=str(pokes)))
    deployment.record_dags()
    deployment.trigger("never_ready")
    with deployment.scheduler(workers=1) as scheduler:
        deployment.drive(scheduler)

    assert deployment.run_state("never_ready") == "failed"
    wait = deployment.ti("never_ready", "wait")
    assert (wait.state, wait.try_number) == ("failed", 1)
    assert "SensorTimeout" in (wait.error or "")
    assert [(t.try_number, t.state) for t in deployment.tries("never_ready", "wait")] == [(1, "failed")]
    assert len(pokes.read_text().splitlines()) > 1


PRODUCER = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import PythonOperator


def broken():
    raise ValueError("broken on purpose")


with DAG("producer", schedule=None, start_date=datetime(2024, 1, 1)):
    PythonOperator(task_id="produce", python_callable=lambda: 1)
    PythonOperator(task_id="broken", python_callable=broken)
"""

CONSUMER = """
from datetime import datetime

from dagflow import DAG
from dagflow.sensors import ExternalTaskSensor

with DAG("consumer", schedule=None, start_date=datetime(2024, 1, 1)):
    common = dict(external_dag_id="producer", mode="reschedule", poke_interval=0.05, timeout=45)
    ExternalTaskSensor(task_id="wait_task", external_task_id="produce", check_existence=True, **common)
    ExternalTaskSensor(task_id="run_fails", failed_states=["failed"], **common)
    ExternalTaskSensor(task_id="broken_skips", external_task_id="broken", skipped_states=["failed"], **common)
"""


def test_external_task_sensor_waits_for_another_dags_run_in_the_store(deployment: Deployment):
    deployment.dags.write("producer.py", PRODUCER)
    deployment.dags.write("consumer.py", CONSUMER)
    deployment.record_dags()
    deployment.trigger("consumer")
    sensors = ("wait_task", "run_fails", "broken_skips")

    def all_waiting() -> bool:
        return all("up_for_reschedule" in deployment.seen.get(("consumer", s), ()) for s in sensors)

    with deployment.scheduler(workers=2) as scheduler:
        deployment.drive(scheduler, all_waiting)  # no producer run yet: every sensor waits
        deployment.trigger("producer")
        deployment.drive(scheduler)

    assert deployment.run_state("producer") == "failed"
    got = {s: (deployment.ti("consumer", s).state, deployment.ti("consumer", s).try_number) for s in sensors}
    assert got == {"wait_task": ("success", 1), "run_fails": ("failed", 1), "broken_skips": ("skipped", 1)}
    assert "ExternalTaskFailed" in (deployment.ti("consumer", "run_fails").error or "")
