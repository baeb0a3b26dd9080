"""A weekday cron in Berlin time whose runs each cover the day before them (Airflow 3's trigger timetable)."""

from datetime import datetime, timedelta

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable

with DAG(
    dag_id="timetable_cron_trigger_interval",
    schedule=CronTriggerTimetable("0 6 * * 1-5", timezone="Europe/Berlin", interval=timedelta(days=1)),
    start_date=pendulum.datetime(2024, 3, 1, tz="Europe/Berlin"),
    catchup=False,
    tags=["timetables"],
):

    @task
    def window(data_interval_start=None, data_interval_end=None, logical_date=None):
        return [data_interval_start.isoformat(), data_interval_end.isoformat(), logical_date.isoformat()]

    @task
    def hours(bounds: list[str]) -> float:
        start, end = (pendulum.instance(datetime.fromisoformat(b)) for b in bounds[:2])
        return (end - start).total_seconds() / 3600

    hours(window())
