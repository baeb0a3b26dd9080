"""DAG params with defaults, overridden by the run's conf, read in templates and in tasks."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="params_and_conf",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "city": Param("Utrecht", type="string"),
        "days": Param(3, type="integer", minimum=1),
    },
):
    greet = BashOperator(
        task_id="greet", bash_command="echo Weather for {{ params.city }} over {{ params.days }} days"
    )

    @task
    def forecast(params=None, dag_run=None):
        return {"city": params["city"], "days": params["days"], "conf": dag_run.conf}

    greet >> forecast()
