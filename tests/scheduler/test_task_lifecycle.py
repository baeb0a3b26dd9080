"""A task instance's way through the store, as the scheduler and a worker move it along."""

from __future__ import annotations

from typing import Any

import pytest

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
