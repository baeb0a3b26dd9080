"""Task callbacks from default_args and on the task: on_execute, on_success, on_retry and
on_failure, each given the task's context (ti, task, exception); a final task reads what they wrote."""

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow import DAG
from airflow.decorators import task
from airflow.exceptions import AirflowFailException
from airflow.models.taskinstance import TaskInstance
from airflow.utils.context import Context


def journal(context: Context) -> Path:
    run = context["dag_run"]
    name = f"{run.run_id}{run.start_date.isoformat()}"
    return Path(tempfile.gettempdir()) / ("task_callbacks_" + "".join(c for c in name if c.isalnum()))


def note(context: Context, event: str) -> None:
    ti: TaskInstance = context["ti"]
    error = context.get("exception")
    line = f"{event}:{ti.task_id}:{ti.try_number}"
    if error is not None:
        line += ":no retry" if isinstance(error, AirflowFailException) else f":{error}"
    with journal(context).open("a") as out:
        out.write(line + "\n")


def on_success(context):
    note(context, "success")


def on_failure(context):
    # an alert links the try's log page
    note(context, "failure" if context["ti"].log_url.startswith("http") else "failure without log link")


def on_retry(context):
    note(context, "retry")


def on_execute(context):
    note(context, "execute")


with DAG(
    dag_id="task_callbacks",
    start_date=datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"on_failure_callback": on_failure, "retry_delay": timedelta(seconds=0)},
):

    @task(on_success_callback=on_success, on_execute_callback=on_execute)
    def extract():
        return 3

    @task(retries=1, on_retry_callback=on_retry, on_success_callback=[on_success])
    def flaky(n, ti=None):
        if ti.try_number == 1:
            raise TimeoutError("the API was slow")
        return n * 2

    @task
    def doomed():
        raise AirflowFailException("bad input")

    @task(trigger_rule="all_done")
    def read_journal(**context):
        path = journal(context)
        lines = path.read_text().splitlines()
        path.unlink()
        return sorted(lines)

    [flaky(extract()), doomed()] >> read_journal()
