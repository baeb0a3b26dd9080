"""The scheduler acts on events: a trigger's commit wakes it."""

from __future__ import annotations

import time

from dagflow import actions
from dagflow.scheduler.job import SchedulerOptions
from tests.scheduler.conftest import Orchestrator

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
        background.wait_until_asleep()

        triggered = time.monotonic()
        with orchestrator.db.session(write=True) as session:
            run_id = actions.trigger_dag(session, "quick", owner="test").run_id
        # the trigger's commit wakes it: nobody sends a wake-up by hand
        orchestrator.wait_for(lambda: orchestrator.run("quick").state == "success", timeout=10)
        waited = time.monotonic() - triggered

    assert waited < 10  # far less than max_wait: the wake-up, not the timer, started it
    assert orchestrator.xcoms("quick", run_id) == {("answer", "return_value"): 42}
