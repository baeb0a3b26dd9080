"""A branch whose edges carry labels, as the documentation's edge-label example draws it."""

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Label, task

with DAG(
    dag_id="labelled_branches",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    ingest = EmptyOperator(task_id="ingest")

    @task.branch
    def check_errors() -> str:
        errors = 0
        return "save" if errors == 0 else "report"

    check = check_errors()
    save = EmptyOperator(task_id="save")
    report = EmptyOperator(task_id="report")
    finish = EmptyOperator(task_id="finish", trigger_rule="none_failed_min_one_success")

    ingest >> Label("rows loaded") >> check
    check >> Label("No errors") >> save >> finish
    check.set_downstream(report, edge_modifier=Label("Errors found"))
    report >> Label("after the report") >> finish
