"""The scheduler acts on events: a trigger's commit wakes it, an outcome its owner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from dagflow import actions
from dagflow.scheduler.job import Scheduler, SchedulerOptions
from dagflow.store.notify import wake_after_commit
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


def _wait_seconds(scheduler: Scheduler, wake: Callable[[], None]) -> float:
    """How long one wait of ``scheduler`` lasts when ``wake`` commits a quarter second into it."""
    timer = threading.Timer(0.25, wake)
    started = time.monotonic()
    timer.start()
    try:
        scheduler.wait()
    finally:
        timer.join()
    return time.monotonic() - started


def test_outcomes_of_another_schedulers_attempts_do_not_wake_this_one(orchestrator: Orchestrator):
    """On PostgreSQL an outcome's wake-up goes to the scheduler that handed the attempt out alone:
    another's wait runs to its end (its passes would only repeat the owner's work)."""
    if orchestrator.db.engine.dialect.name != "postgresql":
        pytest.skip("one scheduler per SQLite database: every outcome is its own")
    options = SchedulerOptions(max_wait=2.0, run_processor=False)
    scheduler = orchestrator.scheduler(options, workers=1)
    scheduler.start()
    try:
        scheduler.run_once()
        mine = scheduler.job_id
        assert mine is not None

        def outcome_of(job_id: int) -> Callable[[], None]:
            def commit() -> None:
                with orchestrator.db.session(write=True) as session:
                    wake_after_commit(session, outcome=True, scheduler=job_id)

            return commit

        others = _wait_seconds(scheduler, outcome_of(mine + 1))
        scheduler.run_once()
        own = _wait_seconds(scheduler, outcome_of(mine))
    finally:
        scheduler.shutdown()
    assert others > 1.75  # ended by max_wait, not by the wake-up
    assert own < 1.5  # ended by the wake-up
