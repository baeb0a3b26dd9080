"""@task.short_circuit that respects downstream trigger rules next to the classic operator that skips
everything downstream, and a short circuit whose truthy value is passed on."""

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import dag, task
from airflow.sdk.definitions.edges import Label


@dag(schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def short_circuit_trigger_rules():
    # ignore_downstream_trigger_rules=False skips only the direct downstream tasks; the rest follow
    # their trigger rules (all_done runs, all_success is skipped by its skipped upstream)
    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def has_new_rows():
        return 0

    publish = EmptyOperator(task_id="publish")
    audit = EmptyOperator(task_id="audit", trigger_rule="all_done")
    archive = EmptyOperator(task_id="archive")
    has_new_rows() >> Label("rows > 0") >> publish >> [audit, archive]

    # the default skips every task downstream, whatever its trigger rule
    gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: [])
    refresh = EmptyOperator(task_id="refresh")
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
    gate >> refresh >> cleanup

    @task.short_circuit
    def batch_size():
        return {"rows": 3}

    @task
    def load(batch):
        return batch["rows"] * 2

    load(batch_size())


short_circuit_trigger_rules()
