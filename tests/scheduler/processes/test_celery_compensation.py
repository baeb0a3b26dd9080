"""A failed run is compensated on the Celery executor: real ``dagflow celery worker`` processes run the
compensations, in reverse order, and each one's end wakes the scheduler as an attempt's does; a
compensation is sent to its task's queue (or its own), and runs on the workers listening there; one
no worker takes from its queue is failed, with its retries, and the compensation ends."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from dagflow.core.keys import RunKey, TIKey
from dagflow.scheduler.job import SchedulerOptions
from dagflow.store.compensations import compensation_rows, tries_of
from dagflow.store.models import CompensationTryRow
from dagflow.store.rows import compensation_json
from tests.scheduler.conftest import Orchestrator, at
from tests.scheduler.processes.celery_workers import broker_url, celery_workers

SAGA = """
import os
from datetime import datetime
from pathlib import Path

from dagflow import DAG
from dagflow.operators import PythonOperator

JOURNAL = Path(os.path.dirname(__file__)) / "undone.txt"


def undo(**context):
    with JOURNAL.open("a") as stream:
        stream.write(context["ti"].task_id + "\\n")


def boom():
    raise RuntimeError("the last step fails")


with DAG("celery_saga", schedule=None, start_date=datetime(2024, 1, 1)):
    steps = [
        PythonOperator(task_id=name, python_callable=lambda: 1, compensate=undo)
        for name in ("book", "pay", "ship")
    ]
    steps[0] >> steps[1] >> steps[2] >> PythonOperator(task_id="boom", python_callable=boom)
"""

#: Half the scheduler's sleep while work is in hand (``heartbeat_interval``, 1 s): a compensation's end
#: found only when that sleep runs out shows up as a gap of about a second before the next one starts
#: (woken by the worker's commit, the gap is tens of milliseconds).
PROMPT = timedelta(seconds=0.5)


@pytest.mark.parametrize("broker", ["redis"])
def test_a_failed_run_on_celery_is_compensated_in_reverse_order(
    orchestrator: Orchestrator, tmp_path, broker: str
):
    url = broker_url(broker)
    orchestrator.write("celery_saga.py", SAGA)
    orchestrator.record_dags()
    (tmp_path / "machines").mkdir()
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, url, orchestrator.dags.path
    ) as workers:
        orchestrator.setenv(**{k.removeprefix("DAGFLOW__"): v for k, v in workers.env().items()})
        worker = workers.start("one")
        workers.wait_ready(worker)
        run_id = orchestrator.trigger("celery_saga")
        orchestrator.run_until_idle(executor="celery")

    run = orchestrator.run("celery_saga", run_id)
    assert (run.state, run.compensation_state) == ("failed", "compensated")
    undone = worker.home / "dags" / "undone.txt"  # written beside the worker's copy of the DAG files
    assert undone.read_text().splitlines() == ["ship", "pay", "book"]
    with orchestrator.db.session() as session:
        tries = list(session.scalars(select(CompensationTryRow).order_by(CompensationTryRow.start_date)))
    assert [(t.task_id, t.state, t.hostname) for t in tries] == [
        ("ship", "success", worker.name),
        ("pay", "success", worker.name),
        ("book", "success", worker.name),
    ]
    for done, following in pairwise(tries):
        assert done.end_date is not None and following.start_date is not None
        gap = following.start_date - done.end_date
        assert gap < PROMPT, f"{following.task_id} started {gap} after {done.task_id} ended"


STRANDED = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import PythonOperator


def boom():
    raise RuntimeError("the last step fails")


unbook = PythonOperator(task_id="unbook", python_callable=lambda: None, queue="{unheard}")

with DAG("stranded_saga", schedule=None, start_date=datetime(2024, 1, 1)):
    book = PythonOperator(
        task_id="book",
        python_callable=lambda: 1,
        compensate=unbook,
        compensation_retries=1,
        compensation_retry_delay=0,
        queue="{queue}",
    )
    book >> PythonOperator(task_id="boom", python_callable=boom, queue="{queue}")
"""


def test_a_compensation_no_worker_takes_is_failed_after_its_retries_and_the_compensation_ends(
    orchestrator: Orchestrator, tmp_path
):
    """The forward tasks run on the one worker's queue; the compensation names a queue of its own, on
    which nobody listens: each try is sent again once, then failed, and the run's compensation ends."""
    url = broker_url("redis")
    (tmp_path / "machines").mkdir()
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, url, orchestrator.dags.path
    ) as workers:
        orchestrator.write(
            "stranded_saga.py", STRANDED, queue=workers.queue("work"), unheard=workers.queue("unheard")
        )
        orchestrator.record_dags()
        orchestrator.setenv(
            **{k.removeprefix("DAGFLOW__"): v for k, v in workers.env().items()},
            # (long enough for the listening worker to take the forward tasks on a loaded machine)
            SCHEDULER__TASK_QUEUED_TIMEOUT="1.5",
            CELERY__STUCK_IN_QUEUED_RETRIES="1",
        )
        worker = workers.start("one", queues=["work"], concurrency=1)
        workers.wait_ready(worker)
        run_id = orchestrator.trigger("stranded_saga")
        options = SchedulerOptions(run_processor=False, heartbeat_interval=0.1)
        orchestrator.run_until_idle(options, executor="celery", timeout=20)

    run = orchestrator.run("stranded_saga", run_id)
    assert (run.state, run.compensation_state) == ("failed", "compensation_failed")
    with orchestrator.db.session() as session:
        (shown,) = [
            compensation_json(row) for row in compensation_rows(session, RunKey("stranded_saga", run_id))
        ]
        tries = tries_of(session, TIKey("stranded_saga", run_id, "book", -1))
    unheard = (
        f"no worker took it from Celery queue {workers.queue('unheard')!r} within 1.5s, 1 time(s) sent again"
    )
    assert (shown["state"], shown["try_number"], shown["hostname"]) == ("failed", 2, None)
    assert unheard in shown["error"] and "is a worker listening on that queue?" in shown["error"]
    assert [(t.try_number, t.state, t.start_date, t.hostname) for t in tries] == [
        (1, "up_for_retry", None, None),
        (2, "failed", None, None),
    ]
    assert all(unheard in (t.error or "") for t in tries)
    # each try: waited 1.5 s, sent again, waited 1.5 s more (the scheduler looks every 0.1 s)
    assert run.end_date is not None and tries[-1].end_date is not None
    assert at(tries[-1].end_date) - at(run.end_date) < timedelta(seconds=4 * 1.5 + 2.5)


ROUTED = """
from datetime import datetime

from dagflow import DAG
from dagflow.operators import PythonOperator


def boom():
    raise RuntimeError("the last step fails")


with DAG("routed_saga", schedule=None, start_date=datetime(2024, 1, 1)):
    book = PythonOperator(
        task_id="book", python_callable=lambda: 1, compensate=lambda: None, queue="{special}"
    )
    book >> PythonOperator(task_id="boom", python_callable=boom)
"""


def test_a_compensation_runs_on_its_tasks_queue_not_on_the_default_one(orchestrator: Orchestrator, tmp_path):
    """The task runs on ``special``, whose workers alone may have what it needs: its compensation is
    sent there too, and one of them runs it. A worker listening only on the default queue (it runs
    ``boom``, which has no ``queue=``) is idle all along, and never takes it."""
    url = broker_url("redis")
    (tmp_path / "machines").mkdir()
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, url, orchestrator.dags.path
    ) as workers:
        orchestrator.write("routed_saga.py", ROUTED, special=workers.queue("special"))
        orchestrator.record_dags()
        orchestrator.setenv(**{k.removeprefix("DAGFLOW__"): v for k, v in workers.env().items()})
        anywhere = workers.start("anywhere", concurrency=1)  # the default queue only
        special = workers.start("special", queues=["special"], concurrency=1)
        workers.wait_ready(anywhere, special)
        run_id = orchestrator.trigger("routed_saga")
        orchestrator.run_until_idle(executor="celery", timeout=30)

    run = orchestrator.run("routed_saga", run_id)
    assert (run.state, run.compensation_state) == ("failed", "compensated")
    ran_on = {t: ti.hostname for t, ti in orchestrator.task_instances("routed_saga", run_id).items()}
    assert ran_on == {"book": special.name, "boom": anywhere.name}
    with orchestrator.db.session() as session:
        tries = tries_of(session, TIKey("routed_saga", run_id, "book", -1))
    assert [(t.try_number, t.state, t.hostname) for t in tries] == [(1, "success", special.name)]
