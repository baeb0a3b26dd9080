"""Tasks reading the run's dates from the context: pendulum DateTimes, as in Airflow."""

import pendulum
from airflow.sdk import dag, get_current_context, task


@dag(
    schedule=pendulum.duration(days=1),
    start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Amsterdam"),
    catchup=False,
    default_args={"retry_delay": pendulum.duration(seconds=30)},
)
def pendulum_context():
    @task
    def from_arguments(logical_date=None, data_interval_start=None, data_interval_end=None):
        return {
            "next_day": logical_date.add(days=1).to_date_string(),
            "interval_hours": data_interval_start.diff(data_interval_end).in_hours(),
            "quarter": logical_date.quarter,
            "iso": logical_date.to_iso8601_string(),
        }

    @task
    def from_context():
        context = get_current_context()
        run_date = context["dag_run"].logical_date
        local = run_date.in_timezone("Europe/Amsterdam")
        return {
            "same_as_logical_date": run_date == context["logical_date"],
            "local": local.format("YYYY-MM-DD HH:mm"),
            "ts_is_text": isinstance(context["ts"], str),
            "ds": context["ds"],
        }

    from_arguments() >> from_context()


pendulum_context()
