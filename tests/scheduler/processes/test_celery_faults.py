"""Faults on the Celery executor, with real brokers and real ``dagflow celery worker`` processes.

* a worker killed with ``kill -9`` (with its pool processes) in the middle of an attempt: its
  heartbeat stops, the try is retried on the other worker, and the two tries never overlap (checked
  from an execution log the task writes, not only from the store);
* the broker losing its messages (what a Redis restart without persistence does; here the queue is
  purged, as the broker itself is shared by this machine): the task instance the store says is
  queued is sent again after ``[scheduler] task_queued_timeout`` and runs once;
* no worker listening on a task's queue (while one listens on another): after being sent again, its
  try fails as any failed try does, up for retry (after its retry delay) while it has retries left.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from kombu.exceptions import ChannelError

from dagflow.remote.celery_app import CelerySettings, make_app
from dagflow.remote.inspect import workers_status
from dagflow.scheduler.job import SchedulerOptions
from tests.backends import POSTGRES_ENV
from tests.scheduler.conftest import Orchestrator, at
from tests.scheduler.processes.celery_workers import (
    CeleryWorkers,
    broker_url,
    celery_workers,
)

SLOW = """
import os
import time
from datetime import datetime, timedelta

from dagflow import DAG, get_current_context, task

with DAG("slow", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(retries=1, retry_delay=timedelta(0), queue="{queue}")
    def long():
        try_number = get_current_context()["ti"].try_number
        with open({journal!r}, "a") as journal:
            journal.write(f"start {{try_number}} {{time.time()}} {{os.getpid()}}\\n")
        time.sleep(3 if try_number == 1 else 0.2)
        with open({journal!r}, "a") as journal:
            journal.write(f"end {{try_number}} {{time.time()}}\\n")
        return try_number

    long()
"""

STRANDED = """
from datetime import datetime, timedelta

from dagflow import DAG, task

with DAG("stranded", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(queue="{work}")
    def heard():
        return 1

    @task(queue="{nobody}")
    def once():
        return 1

    @task(queue="{nobody}", retries=1, retry_delay=timedelta(seconds=1))
    def twice():
        return 1

    heard()
    once()
    twice()
"""

CALLED_BACK = """
import os
from datetime import datetime, timedelta

from dagflow import DAG, task


def record(kind):
    def callback(context):
        ti = context["ti"]
        with open({journal!r}, "a") as journal:
            journal.write(f"{{kind}} {{ti.try_number}} {{ti.state}} {{context['exception']}}\\n")
    return callback


with DAG("called_back", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(
        queue="{nobody}",
        retries=1,
        retry_delay=timedelta(seconds=0),
        on_retry_callback=record("retry"),
        on_failure_callback=record("failure"),
    )
    def stranded():
        return 1

    stranded()
"""

OVERRUN = """
import os
import time
from datetime import datetime, timedelta

from dagflow import DAG, get_current_context, task


def record(kind):
    def callback(context):
        ti = context["ti"]
        exception = context["exception"]
        with open({journal!r}, "a") as journal:
            journal.write(
                f"{{kind}} {{ti.try_number}} {{ti.state}} {{os.getpid()}} "
                f"{{type(exception).__name__}}: {{exception}}\\n"
            )
    return callback


with DAG("overrun", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(
        execution_timeout=timedelta(seconds=1),
        retries=1,
        retry_delay=timedelta(0),
        on_retry_callback=record("retry"),
        on_failure_callback=record("failure"),
    )
    def stubborn():
        try_number = get_current_context()["ti"].try_number
        with open({journal!r}, "a") as journal:
            journal.write(f"start {{try_number}} {{os.getpid()}}\\n")
        try:
            time.sleep(30)
        except BaseException:
            time.sleep(30)  # ignores its timeout: the worker's watchdog must end it

    stubborn()
"""

BROKERS = ["redis", "rabbitmq"]


@pytest.fixture(autouse=True)
def _one_store(orchestrator: Orchestrator) -> None:
    """Faults are about processes and the broker: one store is enough (PostgreSQL, when there is one)."""
    if orchestrator.database_url.startswith("sqlite") and os.environ.get(POSTGRES_ENV):
        pytest.skip("run on PostgreSQL")


def _start(orchestrator: Orchestrator, workers: CeleryWorkers, **settings: str) -> None:
    orchestrator.setenv(**{k.removeprefix("DAGFLOW__"): v for k, v in workers.env().items()}, **settings)


def _journal(path: Path) -> list[tuple[str, int, float]]:
    entries = []
    for line in path.read_text().splitlines():
        kind, try_number, when = line.split()[:3]
        entries.append((kind, int(try_number), float(when)))
    return entries


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_killed_mid_attempt_is_retried_elsewhere_never_at_the_same_time(
    orchestrator: Orchestrator, tmp_path: Path, broker: str
):
    url = broker_url(broker)
    journal = tmp_path / "journal.txt"
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, url, orchestrator.dags.path
    ) as workers:
        orchestrator.write("slow.py", SLOW, queue=workers.queue(), journal=str(journal))
        orchestrator.record_dags()
        _start(orchestrator, workers)
        (tmp_path / "machines").mkdir(exist_ok=True)
        pair = workers.start("one", concurrency=1), workers.start("two", concurrency=1)
        workers.wait_ready(*pair)
        options = SchedulerOptions(run_processor=False, task_heartbeat_timeout=2)
        with orchestrator.in_thread(options, executor="celery"):
            run_id = orchestrator.trigger("slow")
            orchestrator.wait_for(lambda: journal.exists() and "start 1" in journal.read_text(), timeout=30)
            ti = orchestrator.task_instances("slow", run_id)["long"]
            victim = next(w for w in pair if w.name == ti.hostname)
            app = make_app(CelerySettings(url))
            running = {w.name: [a.label() for a in w.running] for w in workers_status(app, timeout=2)}
            app.close()
            assert running[victim.name] == [f"slow.long {run_id} try 1"]  # what dagflow celery status shows
            victim.kill()
            killed_at = time.time()
            orchestrator.wait_for(lambda: orchestrator.run("slow", run_id).state != "running", timeout=40)

    assert orchestrator.run("slow", run_id).state == "success"
    first, second = orchestrator.tries("slow", run_id, "long")
    assert (first.try_number, first.state) == (1, "up_for_retry")
    assert "heartbeat stopped" in (first.error or "")
    assert (second.try_number, second.state, second.hostname) == (
        2,
        "success",
        next(w for w in pair if w is not victim).name,
    )
    assert at(second.start_date) >= at(first.end_date)
    entries = _journal(journal)
    assert [(kind, number) for kind, number, _ in entries] == [("start", 1), ("start", 2), ("end", 2)]
    assert entries[1][2] > killed_at  # try 2 began only after try 1's worker was dead


@pytest.mark.parametrize("broker", BROKERS)
def test_messages_the_broker_lost_are_sent_again_and_run_once(
    orchestrator: Orchestrator, tmp_path: Path, broker: str
):
    url = broker_url(broker)
    journal = tmp_path / "journal.txt"
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, url, orchestrator.dags.path
    ) as workers:
        (tmp_path / "machines").mkdir(exist_ok=True)
        orchestrator.write("slow.py", SLOW, queue=workers.queue("late"), journal=str(journal))
        orchestrator.record_dags()
        # sent again every 2 s, and never given up here (that is test_celery_executor's): the worker
        # that takes it may be slow to start on a busy machine
        _start(
            orchestrator, workers, SCHEDULER__TASK_QUEUED_TIMEOUT="2", CELERY__STUCK_IN_QUEUED_RETRIES="50"
        )
        options = SchedulerOptions(run_processor=False)
        with orchestrator.in_thread(options, executor="celery"):
            run_id = orchestrator.trigger("slow")
            orchestrator.wait_for(
                lambda: orchestrator.states("slow", run_id).get("long") == "queued", timeout=20
            )
            # the broker loses the message (sent by the executor's thread after the queued state's
            # commit: purged as soon as it is there)
            assert _purge_once_sent(url, workers.queue("late")) == 1
            worker = workers.start("late", queues=["late"], concurrency=1)
            workers.wait_ready(worker)
            orchestrator.wait_for(lambda: orchestrator.run("slow", run_id).state != "running", timeout=40)

    assert orchestrator.run("slow", run_id).state == "success"
    ti = orchestrator.task_instances("slow", run_id)["long"]
    assert (ti.state, ti.try_number, ti.hostname) == ("success", 1, worker.name)
    assert [(kind, number) for kind, number, _ in _journal(journal)] == [("start", 1), ("end", 1)]


def _purge_once_sent(url: str, queue: str, timeout: float = 20.0) -> int:
    """Delete the messages of ``queue`` as soon as there are any; how many there were. (Until the
    first message is sent, RabbitMQ has no such queue: nothing to delete yet.)"""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChannelError):
            if purged := _purge(url, queue):
                return purged
        if time.monotonic() > deadline:
            return 0
        time.sleep(0.05)


def _purge(url: str, queue: str) -> int:
    """Delete every message waiting in ``queue``; how many there were."""
    app = make_app(CelerySettings(url))
    try:
        with app.connection_for_write() as connection:
            return int(connection.default_channel.queue_purge(queue) or 0)
    finally:
        app.close()


def test_a_new_scheduler_takes_over_the_attempts_its_predecessor_left_running(
    orchestrator: Orchestrator, tmp_path: Path
):
    """The attempt keeps running on its worker while the scheduler is replaced; it runs once, and the
    new scheduler carries the run on from its outcome."""
    url = broker_url("redis")
    journal = tmp_path / "journal.txt"
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, url, orchestrator.dags.path
    ) as workers:
        (tmp_path / "machines").mkdir(exist_ok=True)
        orchestrator.write("slow.py", SLOW, queue=workers.queue(), journal=str(journal))
        orchestrator.record_dags()
        _start(orchestrator, workers)
        worker = workers.start("one", concurrency=1)
        workers.wait_ready(worker)
        options = SchedulerOptions(run_processor=False)
        with orchestrator.in_thread(options, executor="celery"):
            run_id = orchestrator.trigger("slow")
            orchestrator.wait_for(lambda: journal.exists() and "start 1" in journal.read_text(), timeout=30)
        assert orchestrator.states("slow", run_id)["long"] == "running"  # the first scheduler is gone
        with orchestrator.in_thread(options, executor="celery"):
            orchestrator.wait_for(lambda: orchestrator.run("slow", run_id).state != "running", timeout=30)

    assert orchestrator.run("slow", run_id).state == "success"
    assert [(t.try_number, t.state) for t in orchestrator.tries("slow", run_id, "long")] == [(1, "success")]
    assert [(kind, number) for kind, number, _ in _journal(journal)] == [("start", 1), ("end", 1)]


def test_a_task_no_worker_takes_from_its_queue_fails_its_try_with_its_retries(
    orchestrator: Orchestrator, tmp_path: Path
):
    """A worker listens on one queue; two tasks go to another, on which nobody listens. Each try is
    sent again once, then failed as a try that ran and failed would be (Airflow's ``handle_failure``
    for a task stuck in queued): with no retries, failed at once; with one, up for retry, sent again
    after its retry delay, then failed. Every try is in the history, never started."""
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, broker_url("redis"), orchestrator.dags.path
    ) as workers:
        (tmp_path / "machines").mkdir(exist_ok=True)
        nobody = workers.queue("nobody")
        orchestrator.write("stranded.py", STRANDED, work=workers.queue("work"), nobody=nobody)
        orchestrator.record_dags()
        _start(
            orchestrator, workers, SCHEDULER__TASK_QUEUED_TIMEOUT="0.3", CELERY__STUCK_IN_QUEUED_RETRIES="1"
        )
        worker = workers.start("one", queues=["work"], concurrency=1)
        workers.wait_ready(worker)
        run_id = orchestrator.trigger("stranded")
        options = SchedulerOptions(run_processor=False, heartbeat_interval=0.1)
        orchestrator.run_until_idle(options, executor="celery", timeout=30)

    assert orchestrator.run("stranded", run_id).state == "failed"
    tis = orchestrator.task_instances("stranded", run_id)
    assert (tis["heard"].state, tis["heard"].hostname) == ("success", worker.name)
    assert {name: (tis[name].state, tis[name].try_number) for name in ("once", "twice")} == {
        "once": ("failed", 1),
        "twice": ("failed", 2),
    }
    unheard = f"no worker took it from Celery queue {nobody!r} within 0.3s, 1 time(s) sent again"
    once = orchestrator.tries("stranded", run_id, "once")
    twice = orchestrator.tries("stranded", run_id, "twice")
    assert [(t.try_number, t.state, t.start_date, t.hostname) for t in once] == [(1, "failed", None, None)]
    assert [(t.try_number, t.state, t.start_date, t.hostname) for t in twice] == [
        (1, "up_for_retry", None, None),
        (2, "failed", None, None),
    ]
    assert all(unheard in (t.error or "") for t in once + twice)
    first, second = twice
    assert first.end_date is not None and second.queued_at is not None
    assert at(second.queued_at) - at(first.end_date) >= timedelta(seconds=1)  # its retry delay
    assert "scheduler: " + unheard in orchestrator.log("stranded", run_id, "twice", 1)
    assert "; marked up_for_retry" in orchestrator.log("stranded", run_id, "twice", 1)
    assert "; marked failed" in orchestrator.log("stranded", run_id, "twice", 2)


def test_a_task_no_worker_takes_from_its_queue_runs_its_retry_then_its_failure_callback(
    orchestrator: Orchestrator, tmp_path: Path
):
    """Nobody listens on the task's queue; a worker listens on the default one. Each try the
    scheduler fails for it runs the task's callback for how it ended, once, in that worker (the
    task's own queue has none), as Airflow does for a task stuck in queued: ``on_retry_callback``,
    then ``on_failure_callback``, their ``exception`` saying where it waited."""
    journal = tmp_path / "callbacks.txt"
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, broker_url("redis"), orchestrator.dags.path
    ) as workers:
        (tmp_path / "machines").mkdir(exist_ok=True)
        nobody = workers.queue("nobody")
        orchestrator.write("called_back.py", CALLED_BACK, nobody=nobody, journal=str(journal))
        orchestrator.record_dags()
        _start(
            orchestrator, workers, SCHEDULER__TASK_QUEUED_TIMEOUT="0.3", CELERY__STUCK_IN_QUEUED_RETRIES="0"
        )
        workers.wait_ready(workers.start("one", concurrency=1))
        run_id = orchestrator.trigger("called_back")
        options = SchedulerOptions(run_processor=False, heartbeat_interval=0.1)
        orchestrator.run_until_idle(options, executor="celery", timeout=30)
        orchestrator.wait_for(lambda: len(_lines(journal)) >= 2, timeout=30)
        time.sleep(1)  # time enough for a second run of a callback to show

    assert orchestrator.run("called_back", run_id).state == "failed"
    lines = [line.split(" ", 3) for line in _lines(journal)]
    assert [line[:3] for line in lines] == [["retry", "1", "up_for_retry"], ["failure", "2", "failed"]]
    assert all(f"no worker took it from Celery queue {nobody!r} within 0.3s" in line[3] for line in lines)


@pytest.mark.parametrize("broker", BROKERS)
def test_a_try_a_celery_worker_kills_for_its_timeout_runs_its_callback_once_in_another_process(
    orchestrator: Orchestrator, tmp_path: Path, broker: str
):
    """A try that ignores its ``execution_timeout`` is ended by its pool process's watchdog, which
    records it and kills its own process. The task's callback for that try runs once, in another
    process, with the ``TaskLost`` the scheduler's lost-worker path gives: ``on_retry_callback``
    for the first try, ``on_failure_callback`` for the second."""
    journal = tmp_path / "journal.txt"
    with celery_workers(
        tmp_path / "machines", orchestrator.database_url, broker_url(broker), orchestrator.dags.path
    ) as workers:
        (tmp_path / "machines").mkdir(exist_ok=True)
        orchestrator.write("overrun.py", OVERRUN, journal=str(journal))
        orchestrator.record_dags()
        _start(orchestrator, workers)
        workers.extra_env.update(DAGFLOW__WORKER__TIMEOUT_GRACE="1")
        workers.wait_ready(workers.start("one", concurrency=1))
        run_id = orchestrator.trigger("overrun")
        options = SchedulerOptions(run_processor=False, heartbeat_interval=0.1)
        orchestrator.run_until_idle(options, executor="celery", timeout=60)
        called_back = lambda: [x for x in _lines(journal) if not x.startswith("start")]  # noqa: E731
        orchestrator.wait_for(lambda: len(called_back()) >= 2, timeout=30)
        time.sleep(1.5)  # time enough for a second run of a callback to show
        output = workers.workers[0].output()

    # each callback's message reached one process, once: none was taken by a process being killed
    received = re.findall(r"run_attempt\[(callback-\w+)\] received", output)
    assert len(received) == len(set(received)) == 2, output
    assert orchestrator.run("overrun", run_id).state == "failed"
    first, second = orchestrator.tries("overrun", run_id, "stubborn")
    assert (first.try_number, first.state, second.try_number, second.state) == (
        1,
        "up_for_retry",
        2,
        "failed",
    )
    assert "overran its execution_timeout of 1s" in (first.error or "")
    lines = [line.split(" ", 4) for line in _lines(journal)]
    killed = {int(line[1]): int(line[2]) for line in lines if line[0] == "start"}
    # (their order may vary: the first callback's message may reach the broker after try 2's)
    called = sorted((line for line in lines if line[0] != "start"), key=lambda line: line[1])
    assert [line[:3] for line in called] == [["retry", "1", "up_for_retry"], ["failure", "2", "failed"]]
    for kind, try_number, _, pid, exception in called:
        assert int(pid) != killed[int(try_number)], kind  # not in the process that was killed
        assert exception.startswith("TaskLost: killed: the attempt overran its execution_timeout of 1s")
