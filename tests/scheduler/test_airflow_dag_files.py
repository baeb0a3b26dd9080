"""An Airflow DAG file, unchanged, under the scheduler: parsed by the DAG processor through the
``airflow`` import layer, run by workers with pendulum dates in the context, and its XComs of
datetimes and sets stored as typed JSON and read back as such."""

from __future__ import annotations

from datetime import datetime

import pendulum

from tests.scheduler.conftest import Orchestrator

AIRFLOW_FILE = """
import pendulum

from airflow.exceptions import AirflowSkipException
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag, task


@dag(schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Berlin"), catchup=False,
     default_args={"retry_delay": pendulum.duration(seconds=1)})
def ported():
    @task
    def dates(logical_date=None, dag_run=None):
        return {"type": type(logical_date).__name__, "run": type(dag_run.logical_date).__name__,
                "next": logical_date.add(days=1), "seen": {logical_date.year, 1999}}

    @task
    def maybe():
        raise AirflowSkipException("nothing today")

    echo = BashOperator(
        task_id="echo", bash_command="echo {{ logical_date.subtract(days=1).to_date_string() }}"
    )
    dates() >> echo
    maybe()


ported()
"""


def test_airflow_file_runs_under_the_scheduler_with_pendulum_dates_and_rich_xcoms(orchestrator: Orchestrator):
    orchestrator.write("ported.py", AIRFLOW_FILE)
    assert orchestrator.record_dags() == ["ported"]
    when = datetime.fromisoformat("2024-06-01T10:00:00+00:00")
    run_id = orchestrator.trigger("ported", logical_date=when)
    orchestrator.run_until_idle()
    assert orchestrator.states("ported", run_id) == {
        "dates": "success",
        "echo": "success",
        "maybe": "skipped",
    }
    xcoms = orchestrator.xcoms("ported", run_id)
    value = xcoms[("dates", "return_value")]
    assert value["type"] == value["run"] == "DateTime"
    assert value["next"] == pendulum.datetime(2024, 6, 2, 10, tz="UTC")
    assert value["seen"] == {2024, 1999}
    assert xcoms[("echo", "return_value")] == "2024-05-31"
    stored = orchestrator.run("ported", run_id).logical_date
    assert type(stored) is datetime and stored == when


PREV = """
import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
def prev_dates():
    @task
    def previous(**context):
        names = ("prev_data_interval_start_success", "prev_data_interval_end_success",
                 "prev_start_date_success", "prev_end_date_success")
        return {name: context[name] for name in names}

    previous()


prev_dates()
"""


def test_context_has_the_dates_of_the_previous_successful_run(orchestrator: Orchestrator):
    orchestrator.write("prev_dates.py", PREV)
    orchestrator.record_dags()
    first_date = datetime.fromisoformat("2024-06-01T00:00:00+00:00")
    first = orchestrator.trigger("prev_dates", logical_date=first_date)
    orchestrator.run_until_idle()
    assert orchestrator.xcoms("prev_dates", first)[("previous", "return_value")] == dict.fromkeys(
        (
            "prev_data_interval_start_success",
            "prev_data_interval_end_success",
            "prev_start_date_success",
            "prev_end_date_success",
        )
    )
    second = orchestrator.trigger(
        "prev_dates", logical_date=datetime.fromisoformat("2024-06-02T00:00:00+00:00")
    )
    orchestrator.run_until_idle()
    seen = orchestrator.xcoms("prev_dates", second)[("previous", "return_value")]
    run = orchestrator.run("prev_dates", first)
    assert seen["prev_data_interval_start_success"] == run.data_interval_start == first_date
    assert seen["prev_data_interval_end_success"] == run.data_interval_end
    assert seen["prev_start_date_success"] == run.start_date
    assert seen["prev_end_date_success"] == run.end_date is not None
    assert all(isinstance(value, pendulum.DateTime) for value in seen.values())
