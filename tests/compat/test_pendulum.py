"""pendulum, Airflow's datetime library: accepted wherever dagflow takes a date or a duration, and
what tasks and templates get as the run's dates."""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum

from dagflow import DAG, task
from dagflow.operators import BashOperator
from dagflow.sensors import TimeDeltaSensor

WHEN = datetime.fromisoformat("2024-03-30T22:00:00+00:00")


def test_context_dates_are_pendulum_datetimes_and_the_ts_family_text() -> None:
    with DAG("dates", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:

        @task
        def kinds(**context):
            dates = ("logical_date", "data_interval_start", "data_interval_end")
            found = {name: type(context[name]).__name__ for name in dates}
            found["dag_run.logical_date"] = type(context["dag_run"].logical_date).__name__
            found.update({name: type(context[name]).__name__ for name in ("ds", "ts", "ts_nodash")})
            return found

        kinds()

    kinds_found = dag.test(logical_date=WHEN).xcom("kinds")
    assert kinds_found == {
        "logical_date": "DateTime",
        "data_interval_start": "DateTime",
        "data_interval_end": "DateTime",
        "dag_run.logical_date": "DateTime",
        "ds": "str",
        "ts": "str",
        "ts_nodash": "str",
    }


def test_templates_compute_with_pendulum_methods() -> None:
    with DAG("templated", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        BashOperator(
            task_id="echo",
            bash_command=(
                "echo {{ logical_date.add(days=1).format('YYYY-MM-DD') }}"
                " {{ logical_date.in_timezone('Europe/Amsterdam').format('HH:mm') }} {{ ts }}"
            ),
        )
    # 22:00 UTC on the day before the spring change is 23:00 in Amsterdam (UTC+1)
    assert dag.test(logical_date=WHEN).xcom("echo") == "2024-03-31 23:00 2024-03-30T22:00:00+00:00"


def test_pendulum_values_are_accepted_as_dates_durations_and_schedules() -> None:
    default_args = {"retries": 2, "retry_delay": pendulum.duration(minutes=5)}
    with DAG(
        "pendulum_args",
        schedule=pendulum.duration(hours=6),
        start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Berlin"),
        end_date=pendulum.today("UTC").add(years=5),
        default_args=default_args,
    ) as dag:
        wait = TimeDeltaSensor(
            task_id="wait", delta=pendulum.duration(seconds=0), poke_interval=pendulum.duration(seconds=1)
        )

    assert getattr(dag.timezone, "key", None) == "Europe/Berlin"
    assert wait.retry_delay == timedelta(minutes=5)
    assert dag.test(logical_date=WHEN).get("wait").state.value == "success"


def test_dag_callbacks_see_pendulum_dates() -> None:
    seen: list[str] = []

    def on_success(context):
        seen.append(context["dag_run"].logical_date.add(days=1).to_date_string())

    with DAG("callback_dates", schedule=None, on_success_callback=on_success) as dag:

        @task
        def noop():
            return None

        noop()

    dag.test(logical_date=WHEN)
    assert seen == ["2024-03-31"]
