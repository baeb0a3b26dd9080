"""A run past its ``dagrun_timeout`` fails, and the try still running in a worker process is stopped."""

from __future__ import annotations

from datetime import timedelta

from tests.scheduler.conftest import Orchestrator, at

QUICK = """
from datetime import datetime

from dagflow import DAG, task

with DAG("quick", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def answer():
        return 42

    answer()
"""


TIMES_OUT = """
import time
from datetime import datetime, timedelta

from dagflow import DAG, task

with DAG("times_out", schedule=None, start_date=datetime(2024, 1, 1), dagrun_timeout=timedelta(seconds=2)):

    @task
    def quick():
        return "done in time"

    @task
    def slow():
        time.sleep(60)

    @task
    def after_slow():
        return "never"

    quick() >> slow() >> after_slow()
"""


def test_a_run_past_its_dagrun_timeout_fails_and_what_had_not_finished_is_skipped(
    orchestrator: Orchestrator, process_executor: str
):
    orchestrator.write("quick.py", QUICK)
    orchestrator.write("times_out.py", TIMES_OUT)
    orchestrator.record_dags()
    with orchestrator.running(workers=1, executor=process_executor) as scheduler:  # the slow try is killed
        orchestrator.trigger("quick")  # the worker is up (and "quick" surely ends in time) once it ran
        scheduler.until()
        run_id = orchestrator.trigger("times_out")
        scheduler.until(timeout=30)  # the slow try is stopped, not waited for

    run = orchestrator.run("times_out")
    assert run.state == "failed"
    assert at(run.end_date) - at(run.start_date) >= timedelta(seconds=2)
    assert orchestrator.states("times_out", run_id) == {
        "quick": "success",
        "slow": "skipped",
        "after_slow": "skipped",
    }
    # the worker stops the try once its heartbeat finds the task instance skipped, and says so in the
    # try's log (a Celery worker does so on its own time: the scheduler does not wait for it)
    orchestrator.wait_for(lambda: "stopped" in orchestrator.log("times_out", run_id, "slow"), timeout=10)
    orchestrator.check_ran_on(process_executor, "times_out")
