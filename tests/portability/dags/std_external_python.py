"""@task.external_python, ExternalPythonOperator and @task.branch_external_python, with an
existing interpreter."""

import sys

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import ExternalPythonOperator
from airflow.sdk import DAG, task

PATH_TO_PYTHON_BINARY = sys.executable


def add_one(x):
    return x + 1


with DAG(
    dag_id="std_external_python",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):

    @task.external_python(task_id="external_python", python=PATH_TO_PYTHON_BINARY)
    def square(n):
        return n * n

    ExternalPythonOperator(
        task_id="external_python_classic",
        python=PATH_TO_PYTHON_BINARY,
        python_callable=add_one,
        op_args=[41],
    )

    @task.branch_external_python(python=PATH_TO_PYTHON_BINARY)
    def pick(value):
        return "big" if value > 10 else "small"

    big = EmptyOperator(task_id="big")
    small = EmptyOperator(task_id="small")
    pick(square(5)) >> [big, small]
