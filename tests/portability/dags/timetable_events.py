"""Runs on listed match days; a manual run takes the most recent match as its data interval."""

from datetime import datetime

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.events import EventsTimetable

MATCH_DAYS = [
    pendulum.datetime(2024, 3, 2, 15, tz="Europe/London"),
    pendulum.datetime(2024, 3, 16, 17, 30, tz="Europe/London"),
    pendulum.datetime(2024, 4, 6, 12, 30, tz="Europe/London"),
]

with DAG(
    dag_id="timetable_events",
    schedule=EventsTimetable(event_dates=MATCH_DAYS, restrict_to_events=True, description="Match days"),
    start_date=pendulum.datetime(2024, 3, 1, tz="UTC"),
    catchup=False,
):

    @task
    def match(data_interval_start=None, data_interval_end=None):
        assert data_interval_start == data_interval_end
        return data_interval_start.in_timezone("UTC").isoformat()

    @task.branch
    def evening_or_not(kickoff: str):
        local = pendulum.instance(datetime.fromisoformat(kickoff)).in_timezone("Europe/London")
        return "evening" if local.hour >= 17 else "daytime"

    @task
    def evening():
        return "floodlights"

    @task
    def daytime():
        return "sunshine"

    evening_or_not(match()) >> [evening(), daytime()]
