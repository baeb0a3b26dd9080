"""BranchPythonOperator (Airflow 2 import paths) returning a list that mixes a task id and a task group
id, and a @task.branch inside a task group that names its targets relative to the group."""

from datetime import datetime

from airflow import DAG
from airflow.decorators import task
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator
from airflow.utils.task_group import TaskGroup


def pick_targets(**context):
    # a task group id stands for the group's root tasks; every other direct downstream task is skipped,
    # and a branch that skips something ends without pushing its return value (Airflow 3)
    if context["params"]["full_refresh"]:
        return ["rebuild", "notify"]
    return "incremental"


with DAG(
    dag_id="branch_lists_and_groups",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    params={"full_refresh": True},
) as dag:
    route = BranchPythonOperator(task_id="route", python_callable=pick_targets)
    rebuild = EmptyOperator(task_id="rebuild")
    incremental = EmptyOperator(task_id="incremental")

    with TaskGroup("notify") as notify:
        email = EmptyOperator(task_id="email")
        slack = EmptyOperator(task_id="slack")
        email >> EmptyOperator(task_id="log_sent")

    with TaskGroup("quality") as quality:

        @task.branch
        def how_strict(ds=None):
            # relative ids are resolved inside the branching task's own group first
            return ["light", "sampled"] if ds.endswith("-03") else "deep"

        light = EmptyOperator(task_id="light")
        deep = EmptyOperator(task_id="deep")
        with TaskGroup("sampled") as sampled:
            EmptyOperator(task_id="sample_rows")
        how_strict() >> [light, deep, sampled]

    # none_failed_min_one_success: runs when no upstream failed and at least one succeeded
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    strict = EmptyOperator(task_id="strict")

    route >> [rebuild, incremental, notify]
    [rebuild, incremental] >> join >> quality
    [rebuild, incremental] >> strict
