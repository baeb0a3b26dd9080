"""Params with JSON-schema types, enums and nullable values; the run's conf overrides some of them
(dag.test(conf=...)), templates and tasks read the merged values."""

import pendulum
from airflow.models.param import Param
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, get_current_context, task

with DAG(
    dag_id="params_schema_conf_override",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "env": Param("staging", type="string", enum=["staging", "production"]),
        "batch_size": Param(100, type="integer", minimum=1, maximum=1000),
        "tables": Param(["orders"], type="array", items={"type": "string"}),
        "options": Param({"vacuum": False}, type="object"),
        "since": Param(None, type=["null", "string"], format="date"),
        "dry_run": Param(True, type="boolean"),
        "owner": "data-team",
    },
    render_template_as_native_obj=True,
):
    # with native rendering a template that is one expression keeps the Python type
    plan = BashOperator(
        task_id="plan",
        bash_command="echo {{ params.env }} {{ params.batch_size * 2 }} {{ params.tables | join(',') }}",
    )

    @task
    def settings():
        params = get_current_context()["params"]
        return {name: params[name] for name in sorted(params)}

    @task
    def since_or_default(since):
        return since

    # arguments given to a @task call are rendered (op_kwargs is a template field); defaults are not
    plan >> [settings(), since_or_default("{{ params.since or ds }}")]
