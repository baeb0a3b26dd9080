"""The DAG std_trigger_controller triggers: it reads the message from its run's conf."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

with DAG(
    dag_id="std_trigger_target",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    schedule=None,
    params={"message": "no message"},
    tags=["example"],
) as dag:

    @task(task_id="run_this")
    def run_this_func(dag_run=None, params=None):
        return dag_run.conf.get("message", params["message"])

    bash_task = BashOperator(
        task_id="bash_task",
        bash_command='echo "Here is the message: {{ params.message }}"',
    )

    run_this_func() >> bash_task
