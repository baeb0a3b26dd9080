"""Retry policies (Airflow 3.3): the exception a try raised decides whether the task fails at once or
retries, and after how long; an exception no rule names leaves the task's own retries to decide."""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, ChainRetryPolicy, ExceptionRetryPolicy, RetryAction, RetryRule, task
from airflow.sdk.api.datamodels._generated import TriggerRule

NOT_RETRYABLE = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=PermissionError, action=RetryAction.FAIL, reason="credentials will not fix themselves"
        )
    ]
)
QUICK_RETRY = ChainRetryPolicy(
    [
        NOT_RETRYABLE,
        ExceptionRetryPolicy(rules=[RetryRule(exception="builtins.LookupError", retry_delay=timedelta(0))]),
    ]
)

with DAG(
    dag_id="retry_policies",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={"retries": 2, "retry_delay": timedelta(hours=1), "retry_policy": QUICK_RETRY},
):

    @task
    def read_secret():
        raise PermissionError("vault says no")

    @task
    def lookup(ti=None):
        if ti.try_number == 1:
            raise KeyError("cache cold")
        return f"found on try {ti.try_number}"

    @task(retries=1, retry_delay=timedelta(0))
    def parse():
        raise ValueError("no rule names this")

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report():
        return "reported"

    [read_secret(), lookup(), parse()] >> report()
