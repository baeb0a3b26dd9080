"""ExternalTaskMarker marks a child task in another DAG; run on its own it just succeeds. With
@task.run_if and @task.skip_if deciding from the context."""

import pendulum
from airflow.providers.standard.sensors.external_task import ExternalTaskMarker
from airflow.sdk import DAG, task

with DAG(
    dag_id="std_external_task_marker",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    schedule=None,
    tags=["example"],
) as parent_dag:
    parent_task = ExternalTaskMarker(
        task_id="parent_task",
        external_dag_id="std_trigger_target",
        external_task_id="run_this",
    )

    @task.run_if(lambda context: context["task_instance"].task_id.endswith("_b"))
    @task
    def print_a():
        return "a ran"

    @task.run_if(lambda context: context["task_instance"].task_id.endswith("_b"))
    @task
    def print_b():
        return "b ran"

    @task.skip_if(lambda context: context["dag_run"].run_type == "manual", skip_message="manual run")
    @task
    def only_scheduled():
        return "scheduled"

    parent_task >> [print_a(), print_b(), only_scheduled()]
