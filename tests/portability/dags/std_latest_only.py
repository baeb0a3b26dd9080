"""LatestOnlyOperator in a daily DAG: a manual run (``dags test``) lets every downstream task run."""

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.latest_only import LatestOnlyOperator
from airflow.sdk import DAG, task

with DAG(
    dag_id="std_latest_only",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
):
    latest_only = LatestOnlyOperator(task_id="latest_only")

    @task
    def refresh_dashboard(ds=None):
        return f"refreshed for {ds}"

    audit = EmptyOperator(task_id="audit", trigger_rule="all_done")

    latest_only >> refresh_dashboard() >> audit
