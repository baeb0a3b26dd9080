"""Every six hours, each run covering the six hours before it, from a timedelta timetable."""

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from airflow.timetables.trigger import DeltaTriggerTimetable

with DAG(
    dag_id="timetable_delta_trigger",
    schedule=DeltaTriggerTimetable(timedelta(hours=6), interval=timedelta(hours=6)),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    BashOperator(
        task_id="extract",
        bash_command=(
            "echo {{ data_interval_start.strftime('%H:%M') }}-{{ data_interval_end.strftime('%H:%M') }}"
        ),
    )
