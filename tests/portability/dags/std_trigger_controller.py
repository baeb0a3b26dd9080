"""A controller DAG that triggers std_trigger_target with a conf, and one that waits for it."""

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task

with DAG(
    dag_id="std_trigger_controller",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    schedule="@once",
    tags=["example"],
) as dag:
    trigger = TriggerDagRunOperator(
        task_id="test_trigger_dagrun",
        trigger_dag_id="std_trigger_target",
        trigger_run_id="triggered_{{ ds_nodash }}",
        conf={"message": "Hello World"},
    )

    @task
    def triggered_run_id(ti=None):
        return ti.xcom_pull(task_ids="test_trigger_dagrun", key="trigger_run_id")

    trigger >> triggered_run_id()
