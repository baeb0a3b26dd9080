"""render_template_as_native_obj: templated arguments arrive as Python objects, not strings."""

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def total(numbers, factor, settings):
    return {"sum": sum(numbers) * factor, "kind": type(numbers).__name__, "retries": settings["retries"]}


with DAG(
    dag_id="native_rendering",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    params={"numbers": [1, 2, 3], "factor": 2},
):
    PythonOperator(
        task_id="total",
        python_callable=total,
        op_kwargs={
            "numbers": "{{ params.numbers }}",
            "factor": "{{ params.factor }}",
            "settings": "{{ {'retries': 2 + 1} }}",
        },
    )
