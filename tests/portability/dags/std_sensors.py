"""The standard time sensors and BashSensor: each condition already holds for a 2024 logical date."""

import datetime

import pendulum
from airflow.providers.standard.operators.smooth import SmoothOperator
from airflow.providers.standard.sensors.bash import BashSensor
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.providers.standard.sensors.time import TimeSensor
from airflow.providers.standard.sensors.time_delta import WaitSensor
from airflow.sdk import DAG

with DAG(
    dag_id="std_sensors",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
):
    wait_for_moment = DateTimeSensor(
        task_id="wait_for_moment",
        target_time="{{ (data_interval_end + macros.timedelta(minutes=5)).isoformat() }}",
        poke_interval=1,
    )
    wait_for_midnight = TimeSensor(task_id="wait_for_midnight", target_time=datetime.time(0, 0))
    short_wait = WaitSensor(task_id="short_wait", time_to_wait=datetime.timedelta(seconds=1), poke_interval=1)
    check_file = BashSensor(task_id="check_shell", bash_command="test -d /", poke_interval=1, timeout=10)
    done = SmoothOperator(task_id="smooth")

    [wait_for_moment, wait_for_midnight, short_wait, check_file] >> done
