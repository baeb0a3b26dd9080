"""A compensation survives ``kill -9`` of its worker and of the scheduler: it is tried again (never
beside itself), and one that succeeded is never run again. On the local executor and on Celery
(where the process killed is a pool process of the Celery worker, which the scheduler's death leaves
running)."""

from __future__ import annotations

import os
import signal

from sqlalchemy import select

from dagflow.store.models import CompensationInstanceRow, CompensationTryRow, DagRunRow
from tests.crash.conftest import CrashHarness

SAGA = """
from dagflow.operators import PythonOperator


def undo(**context):
    ti = context["ti"]
    note(f"comp-{ti.task_id}-start")
    if ti.task_id == "inner" and ti.try_number == 1:
        time.sleep(120)  # killed here
    if ti.task_id == "outer":
        time.sleep(2)  # the scheduler is killed here
    note(f"comp-{ti.task_id}-end")


def boom():
    raise RuntimeError("boom")


with DAG("saga", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    outer = PythonOperator(
        task_id="outer", python_callable=lambda: 1, compensate=undo, compensation_retries=0
    )
    inner = PythonOperator(
        task_id="inner", python_callable=lambda: 1, compensate=undo, compensation_retries=1,
        compensation_retry_delay=0,
    )
    outer >> inner >> PythonOperator(task_id="boom", python_callable=boom)
"""


def _compensation(crash: CrashHarness, task_id: str) -> CompensationInstanceRow | None:
    with crash.store.session() as session:
        return session.get(CompensationInstanceRow, ("saga", "crash", task_id, -1))


def _running_pid(crash: CrashHarness, task_id: str) -> int | None:
    """The worker running the compensation, once its code has started (journalled its start)."""
    row = _compensation(crash, task_id)
    if row is None or row.state != "running" or not row.pid or not crash.journal.exists():
        return None
    return row.pid if f"comp-{task_id}-start" in crash.journal.read_text() else None


def _compensation_state(crash: CrashHarness) -> str | None:
    with crash.store.session() as session:
        run = session.scalars(select(DagRunRow).where(DagRunRow.run_id == "crash")).one_or_none()
        return run.compensation_state if run is not None else None


def test_compensation_resumes_after_its_worker_and_its_scheduler_are_killed(
    crash: CrashHarness, crash_executor: str
) -> None:
    crash.write_dag("saga.py", SAGA)
    crash.register()
    daemon = crash.start(workers=2, DAGFLOW__SCHEDULER__TASK_HEARTBEAT_TIMEOUT="3")
    crash.trigger("saga")

    worker = crash.wait_for("inner's compensation running", lambda: _running_pid(crash, "inner"), 60)
    os.kill(worker, signal.SIGKILL)
    crash.wait_for("outer's compensation running", lambda: _running_pid(crash, "outer"), 60)
    daemon.kill()  # kill -9 the scheduler while outer's compensation runs in an orphaned worker
    crash.start(workers=2, DAGFLOW__SCHEDULER__TASK_HEARTBEAT_TIMEOUT="3")
    crash.wait_for(
        "the run compensated",
        lambda: _compensation_state(crash) in ("compensated", "compensation_failed"),
        60,
    )

    assert crash.run_state("saga") == "failed"
    assert _compensation_state(crash) == "compensated"
    with crash.store.session() as session:
        tries = {
            (t.task_id, t.try_number): t.state
            for t in session.scalars(select(CompensationTryRow).where(CompensationTryRow.run_id == "crash"))
        }
    assert tries == {("inner", 1): "up_for_retry", ("inner", 2): "success", ("outer", 1): "success"}
    crash.check_ran_on_its_executor("saga")
    lines = [line.split()[0] for line in crash.journal.read_text().splitlines() if line.startswith("comp-")]
    # inner's first try died mid-way; the retry and outer each ran once, one after the other
    assert lines == [
        "comp-inner-start",
        "comp-inner-start",
        "comp-inner-end",
        "comp-outer-start",
        "comp-outer-end",
    ]
