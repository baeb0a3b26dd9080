"""@task.virtualenv and PythonVirtualenvOperator: functions run in a virtual environment of their own."""

import pendulum
from airflow.providers.standard.operators.python import PythonVirtualenvOperator
from airflow.sdk import DAG, task


def callable_virtualenv(numbers):
    """Runs in a fresh virtual environment: everything it uses is imported inside."""
    from statistics import mean

    return {"mean": mean(numbers), "count": len(numbers)}


with DAG(
    dag_id="std_virtualenv",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
):

    @task.virtualenv(task_id="virtualenv_python", requirements=[], system_site_packages=False)
    def summarize(ds=None):
        import sys

        return {"ds": ds, "isolated": sys.prefix != sys.base_prefix}

    virtualenv_task = PythonVirtualenvOperator(
        task_id="virtualenv_classic",
        python_callable=callable_virtualenv,
        op_kwargs={"numbers": [2, 4, 6]},
        system_site_packages=False,
    )

    @task.virtualenv(system_site_packages=False)
    def double(stats):
        return stats["mean"] * 2

    summarize() >> virtualenv_task
    double(virtualenv_task.output)
