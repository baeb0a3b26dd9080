"""BranchDateTimeOperator on the run's logical date: office hours or not."""

import datetime

import pendulum
from airflow.providers.standard.operators.datetime import BranchDateTimeOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

with DAG(
    dag_id="std_branch_datetime",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    schedule="@hourly",
):
    in_office_hours = EmptyOperator(task_id="in_office_hours")
    after_hours = EmptyOperator(task_id="after_hours")

    cond = BranchDateTimeOperator(
        task_id="datetime_branch",
        follow_task_ids_if_true=["in_office_hours"],
        follow_task_ids_if_false=["after_hours"],
        target_lower=datetime.time(9, 0, 0),
        target_upper=datetime.time(17, 0, 0),
        use_task_logical_date=True,
    )

    @task(trigger_rule="none_failed_min_one_success")
    def report(logical_date=None):
        return logical_date.strftime("%H:%M")

    cond >> [in_office_hours, after_hours] >> report()
