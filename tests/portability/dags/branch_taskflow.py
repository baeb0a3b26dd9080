"""Branching with @task.branch and a join that runs when one branch ran and none failed."""

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

with DAG(
    dag_id="branch_taskflow",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"size": 12},
) as dag:

    @task.branch
    def choose(params=None):
        return "big_batch" if params["size"] > 10 else "small_batch"

    @task
    def big_batch():
        return "big"

    @task
    def small_batch():
        return "small"

    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    strict_join = EmptyOperator(task_id="strict_join")

    branches = [big_batch(), small_batch()]
    choose() >> branches
    branches >> join
    branches >> strict_join
