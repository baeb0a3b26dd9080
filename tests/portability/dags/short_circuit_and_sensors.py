"""ShortCircuitOperator and sensors from the standard provider, with pendulum durations."""

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import DAG

with DAG(
    dag_id="short_circuit_and_sensors",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    wait_a_moment = TimeDeltaSensor(task_id="wait_a_moment", delta=pendulum.duration(seconds=0))
    ready = PythonSensor(
        task_id="ready",
        python_callable=lambda: True,
        poke_interval=pendulum.duration(seconds=1),
        timeout=pendulum.duration(minutes=1),
    )
    is_weekend = ShortCircuitOperator(
        task_id="is_weekend",
        python_callable=lambda **context: context["logical_date"].day_of_week >= pendulum.SATURDAY,
    )
    weekend_report = EmptyOperator(task_id="weekend_report")
    always = EmptyOperator(task_id="always")

    wait_a_moment >> ready >> is_weekend >> weekend_report
    ready >> always
