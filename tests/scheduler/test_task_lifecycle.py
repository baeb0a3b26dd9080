"""A task instance's way through the store, as the scheduler and a worker move it along."""

from __future__ import annotations

from typing import Any

import pytest

from dagflow.core.keys import TIKey
from dagflow.executors.worker import Worker
from dagflow.scheduler import decide_runs as deciding
from tests.scheduler.conftest import Orchestrator

PAIR = """
from datetime import datetime

from dagflow import DAG, task

with DAG("pair", schedule=None, start_date=datetime(2024, 1, 1)):

    @task
    def first():
        return 1

    @task
    def second(value):
        return value + 1

    second(first())
"""


def test_decisions_lost_with_their_transaction_are_made_again_at_the_next_pass(
    orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
):
    # The first write of decisions fails after its statements ran (as a lost connection at commit
    # would): nothing of it is in the store, and the scheduler must not go on believing it is: it
    # reads the run again and decides it at the next pass, instead of waiting for "first" to be
    # queued until something else makes it look.
    orchestrator.write("pair.py", PAIR)
    orchestrator.record_dags()
    run_id = orchestrator.trigger("pair")
    record, failed = deciding._record, list[bool]()

    def record_then_fail(*args: Any, **kwargs: Any) -> None:
        record(*args, **kwargs)
        if not failed:
            failed.append(True)
            raise RuntimeError("the store went away before the commit")

    monkeypatch.setattr(deciding, "_record", record_then_fail)
    with orchestrator.running() as driver:
        with pytest.raises(RuntimeError, match="went away"):
            driver.until()
        assert orchestrator.states("pair", run_id) == {"first": "none", "second": "none"}
        assert ("pair", run_id) not in driver.scheduler.cache.runs
        assert ("pair", run_id) in driver.scheduler.state.dirty_runs
        driver.until()

    assert failed
    assert orchestrator.states("pair", run_id) == {"first": "success", "second": "success"}
    assert orchestrator.run("pair", run_id).state == "success"


RETRIED = """
from datetime import datetime, timedelta

from dagflow import DAG, task

with DAG("retried", schedule=None, start_date=datetime(2024, 1, 1)):

    @task(retries=1, retry_delay=timedelta(0))
    def only():
        return 1

    only()
"""


def test_a_try_whose_worker_failed_after_claiming_it_fails_at_once_and_is_retried(
    orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
):
    # The worker's read of the run fails just after its claim committed (the try is running in the
    # store, no task code ran): the scheduler records that try as failed, with the worker's error,
    # as soon as the worker reports it, and the retry runs. It does not wait for the try's heartbeat
    # to go stale (ten minutes here: the test would run out of time first).
    orchestrator.setenv(SCHEDULER__TASK_HEARTBEAT_TIMEOUT="600")
    orchestrator.write("retried.py", RETRIED)
    orchestrator.record_dags()
    run_id = orchestrator.trigger("retried")
    run_info, failed = Worker.run_info, list[bool]()

    def fail_once(self: Worker, key: TIKey) -> Any:
        if not failed:
            failed.append(True)
            raise RuntimeError("the store went away")
        return run_info(self, key)

    monkeypatch.setattr(Worker, "run_info", fail_once)
    orchestrator.run_until_idle(timeout=30)

    assert orchestrator.run("retried", run_id).state == "success"
    assert [t.state for t in orchestrator.tries("retried", run_id)] == ["up_for_retry", "success"]
    reason = "the worker failed while handling it: RuntimeError: the store went away; marked up_for_retry"
    assert reason in orchestrator.log("retried", run_id, "only", try_number=1)
