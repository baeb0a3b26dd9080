"""Airflow's task exceptions and retries: skip, fail at once, succeed on the second try."""

import pendulum
from airflow.exceptions import AirflowFailException, AirflowSkipException
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task
from airflow.utils.trigger_rule import TriggerRule


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def skip_fail_retry():
    @task
    def nothing_to_do():
        raise AirflowSkipException("no new files today")

    @task(retries=3, retry_delay=pendulum.duration(seconds=0))
    def bad_credentials():
        raise AirflowFailException("the API key was rejected: retrying will not help")

    @task(retries=2, retry_delay=pendulum.duration(seconds=0))
    def flaky(ti=None):
        if ti.try_number < 2:
            raise ConnectionError("the service hiccuped")
        return ti.try_number

    after_skip = EmptyOperator(task_id="after_skip")
    after_failure = EmptyOperator(task_id="after_failure")
    report = EmptyOperator(task_id="report", trigger_rule=TriggerRule.ALL_DONE)

    skipped, failed, retried = nothing_to_do(), bad_credentials(), flaky()
    skipped >> after_skip
    failed >> after_failure
    [after_skip, after_failure, retried] >> report


skip_fail_retry()
