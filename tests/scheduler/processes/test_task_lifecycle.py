"""A task instance's way through the store as a worker process moves it along, seen from outside
(on the local executor and on Celery workers)."""

from __future__ import annotations

import threading
from pathlib import Path

from dagflow.scheduler.job import SchedulerOptions
from tests.scheduler.conftest import Orchestrator, at
from tests.scheduler.test_task_lifecycle import RETRIED

THREE_SLOW = """
import time
from datetime import datetime

from dagflow import DAG, task

with DAG("three_slow", schedule=None, start_date=datetime(2024, 1, 1)):
    for name in ("a", "b", "c"):

        @task(task_id=name)
        def nap():
            time.sleep(1.0)

        nap()
"""


class StateWatcher(threading.Thread):
    """Records each state a task instance takes, polling the store until it ends."""

    def __init__(self, orchestrator: Orchestrator, dag_id: str, run_id: str, task_id: str):
        super().__init__(daemon=True)
        self.orchestrator, self.key = orchestrator, (dag_id, run_id, task_id)
        self.seen: list[str] = [self.state()]
        self.done = threading.Event()

    def state(self) -> str:
        dag_id, run_id, task_id = self.key
        return self.orchestrator.states(dag_id, run_id)[task_id]

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.look()
        self.look()  # once more when told to stop: the last state may be younger than the last look

    def look(self) -> None:
        state = self.state()
        if state != self.seen[-1]:
            self.seen.append(state)


def test_a_task_instance_goes_scheduled_queued_running_success_with_its_times_recorded(
    orchestrator: Orchestrator, process_executor: str
):
    # One worker and parallelism 2: while "a" runs, "b" waits queued in the executor and "c"
    # waits scheduled for a free slot; each state lasts as long as one task sleeps
    # (a second: the watcher, a thread of the scheduler's process, must look at least once meanwhile).
    orchestrator.write("three_slow.py", THREE_SLOW)
    orchestrator.record_dags()
    run_id = orchestrator.trigger("three_slow")
    watcher = StateWatcher(orchestrator, "three_slow", run_id, "c")
    watcher.start()
    try:
        orchestrator.run_until_idle(
            SchedulerOptions(parallelism=2, run_processor=False), workers=1, executor=process_executor
        )
    finally:
        watcher.done.set()
        watcher.join()

    assert watcher.seen == ["none", "scheduled", "queued", "running", "success"]
    c = orchestrator.task_instances("three_slow", run_id)["c"]
    assert c.queued_at is not None and c.start_date is not None and c.end_date is not None
    assert c.queued_at <= c.start_date <= c.end_date
    assert c.try_number == 1 and c.hostname and c.pid
    (history,) = orchestrator.tries("three_slow", run_id, "c")
    assert (history.state, history.queued_at, history.end_date) == ("success", c.queued_at, c.end_date)
    assert at(c.start_date) <= at(history.start_date)  # claimed by the worker, then started
    orchestrator.check_ran_on(process_executor, "three_slow")


def test_a_try_its_worker_fails_to_handle_is_failed_at_once_with_the_reason(
    orchestrator: Orchestrator, process_executor: str
):
    # The try's log folder cannot be made (a file has the DAG's folder name), after the worker's
    # claim committed: the try fails at once with that reason, and so does its retry. Nobody waits
    # for the try's heartbeat to go stale (ten minutes here: the run would not end in time).
    orchestrator.setenv(SCHEDULER__TASK_HEARTBEAT_TIMEOUT="600")
    orchestrator.write("retried.py", RETRIED)  # one task, retried once at once
    orchestrator.record_dags()
    logs = orchestrator.home / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "retried").write_text("a file where the DAG's log folder would be")
    run_id = orchestrator.trigger("retried")

    orchestrator.run_until_idle(SchedulerOptions(run_processor=False), workers=1, executor=process_executor)

    assert orchestrator.run("retried", run_id).state == "failed"
    tries = orchestrator.tries("retried", run_id)
    assert [t.state for t in tries] == ["up_for_retry", "failed"]
    for attempt in tries:
        assert "the worker failed while handling it: NotADirectoryError" in (attempt.error or "")


SLOW_TO_IMPORT = """
import os
import time
from datetime import datetime, timedelta

from dagflow import DAG, task

if os.path.exists({marker!r}):
    time.sleep(3)  # heavy imports, on the workers' machines

with DAG("slow_to_import", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(execution_timeout=timedelta(seconds=1))
    def quick():
        return 1

    quick()
"""


def test_parsing_the_dag_file_is_no_part_of_an_attempts_execution_timeout(
    orchestrator: Orchestrator, process_executor: str, tmp_path: Path
):
    # The workers take three seconds to import the DAG file; its task has one second and returns at
    # once. As in Airflow, the timeout is the task's: the worker's own, and the backstop that kills
    # a worker whose attempt overran it by [worker] timeout_grace (half a second here), count from
    # the end of the parse, and the try succeeds.
    orchestrator.setenv(WORKER__TIMEOUT_GRACE="0.5")
    marker = tmp_path / "workers_import_slowly"
    orchestrator.write("slow_to_import.py", SLOW_TO_IMPORT, marker=str(marker))
    orchestrator.record_dags()
    marker.touch()
    run_id = orchestrator.trigger("slow_to_import")

    options = SchedulerOptions(run_processor=False)
    orchestrator.run_until_idle(options, workers=None, executor=process_executor)

    assert orchestrator.run("slow_to_import", run_id).state == "success"
    assert [t.state for t in orchestrator.tries("slow_to_import", run_id)] == ["success"]
