"""The data-interval convention across New York's fall-back night: 01:30 happens twice that day."""

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

with DAG(
    dag_id="timetable_data_interval_dst",
    schedule=CronDataIntervalTimetable("30 1 * * *", timezone="America/New_York"),
    start_date=pendulum.datetime(2024, 10, 1, tz="America/New_York"),
    catchup=False,
):

    @task
    def interval(data_interval_start=None, data_interval_end=None):
        """A manual run covers the last complete interval: it ends at the second 01:30 (EST)."""
        return {
            "start": data_interval_start.in_timezone("UTC").isoformat(),
            "end": data_interval_end.in_timezone("UTC").isoformat(),
            "hours": (data_interval_end - data_interval_start).total_seconds() / 3600,
        }

    interval()
