"""Two run times a day from MultipleCronTriggerTimetable; a flaky task retried once."""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.trigger import MultipleCronTriggerTimetable

with DAG(
    dag_id="timetable_multiple_crons",
    schedule=MultipleCronTriggerTimetable(
        "0 9 * * *", "30 17 * * *", timezone="UTC", interval=timedelta(minutes=30)
    ),
    start_date=pendulum.datetime(2024, 5, 1, tz="UTC"),
    catchup=False,
):

    @task
    def covered(data_interval_start=None, data_interval_end=None, ds=None):
        return [ds, data_interval_start.isoformat(), data_interval_end.isoformat()]

    @task(retries=2, retry_delay=timedelta(seconds=0))
    def flaky(ti=None):
        if ti.try_number < 2:
            raise RuntimeError("the warehouse is waking up")
        return ti.try_number

    covered() >> flaky()
