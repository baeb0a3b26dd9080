"""The scheduler acts on events and on time: a trigger wakes it, a run's ``dagrun_timeout`` ends the run."""

from __future__ import annotations

import time
from datetime import timedelta

from dagflow import actions
from dagflow.scheduler.job import SchedulerOptions
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


def test_a_run_triggered_while_the_scheduler_sleeps_wakes_it_on_commit(
    orchestrator: Orchestrator,
):
    orchestrator.write("quick.py", QUICK)
    orchestrator.record_dags()
    # With nothing to do, this scheduler would sleep 30 s between passes.
    with orchestrator.in_thread(SchedulerOptions(max_wait=30, run_processor=False), workers=1) as background:
        passes = -1
        while passes != background.passes:  # until it sleeps: no pass for half a second
            passes = background.passes
            time.sleep(0.5)

        triggered = time.monotonic()
        with orchestrator.db.session(write=True) as session:
            run_id = actions.trigger_dag(session, "quick", owner="test").run_id
        # the trigger's commit wakes it: nobody sends a wake-up by hand
        orchestrator.wait_for(lambda: orchestrator.run("quick").state == "success", timeout=10)
        waited = time.monotonic() - triggered

    assert waited < 10  # far less than max_wait: the wake-up, not the timer, started it
    assert orchestrator.xcoms("quick", run_id) == {("answer", "return_value"): 42}


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


def test_a_run_past_its_dagrun_timeout_fails_and_what_had_not_finished_is_skipped(orchestrator: Orchestrator):
    orchestrator.write("quick.py", QUICK)
    orchestrator.write("times_out.py", TIMES_OUT)
    orchestrator.record_dags()
    with orchestrator.running(workers=1, executor="local") as scheduler:  # the slow try is killed
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
    assert "stopped" in orchestrator.log("times_out", run_id, "slow")
