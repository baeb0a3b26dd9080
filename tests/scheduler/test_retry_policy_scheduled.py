"""Retry policies under the scheduler: the worker that ran the try applies the policy's decision
(fail now, or retry after the policy's own delay rather than the task's)."""

from __future__ import annotations

from tests.scheduler.conftest import Orchestrator

AIRFLOW_FILE = """
from datetime import timedelta

import pendulum
from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule, dag, task

POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception=PermissionError, action=RetryAction.FAIL),
        RetryRule(exception=KeyError, retry_delay=timedelta(0)),
    ]
)


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
     default_args={"retries": 3, "retry_delay": timedelta(hours=1), "retry_policy": POLICY})
def policies():
    @task
    def denied():
        raise PermissionError("no")

    @task
    def cold_cache(ti=None):
        if ti.try_number == 1:
            raise KeyError("cold")
        return ti.try_number

    denied()
    cold_cache()


policies()
"""


def test_the_worker_fails_at_once_or_retries_after_the_policys_delay(orchestrator: Orchestrator):
    orchestrator.write("policies.py", AIRFLOW_FILE)
    assert orchestrator.record_dags() == ["policies"]
    run_id = orchestrator.trigger("policies")
    orchestrator.run_until_idle()
    assert orchestrator.states("policies", run_id) == {"denied": "failed", "cold_cache": "success"}
    assert len(orchestrator.tries("policies", run_id, "denied")) == 1
    assert len(orchestrator.tries("policies", run_id, "cold_cache")) == 2
