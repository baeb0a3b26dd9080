"""
### Jinja templating in BashOperator and PythonOperator

Every field an operator lists in `template_fields` is rendered with Jinja just before the task
runs, against the run's context:

* `{{ ds }}`, `{{ run_id }}`, `{{ macros.ds_add(ds, 1) }}`: the run's dates and helpers;
* `{{ params.greeting }}`: the DAG's params, overridable with `--conf '{"greeting": "hi"}'`;
* `{{ ti.xcom_pull(task_ids="count_rows") }}`: another task's return value;
* `env=`: the values of the environment passed to the command are templates too;
* a `bash_command` ending in `.sh` names a **template file**, looked up beside this DAG file:
  `example_bash_templating.sh` is rendered (Jinja loops included), then run;
* `templates_dict=` on a PythonOperator: rendered, then handed to the callable.

A BashOperator's last line of output becomes its XCom.

Try it: `dagflow dags test example_bash_templating --logical-date 2024-01-31`
"""

from __future__ import annotations

from datetime import datetime

from dagflow import DAG, task
from dagflow.operators import BashOperator, PythonOperator


def describe_window(templates_dict=None) -> str:
    return f"processing {templates_dict['start']} up to {templates_dict['end']} for {templates_dict['who']}"


with DAG(
    "example_bash_templating",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"greeting": "hello", "regions": ["eu", "us", "apac"]},
    tags=["example", "templating", "bash"],
    doc_md=__doc__,
):

    @task
    def count_rows() -> int:
        return 42

    print_date = BashOperator(
        task_id="print_date",
        bash_command="echo '{{ params.greeting }}, this run is for {{ ds }}'",
    )
    use_xcom = BashOperator(
        task_id="use_xcom",
        bash_command='echo "$GREETING: the upstream counted $ROWS rows"',
        env={
            "GREETING": "{{ params.greeting | capitalize }}",
            "ROWS": "{{ ti.xcom_pull(task_ids='count_rows') }}",
        },
        append_env=True,
    )
    run_script = BashOperator(task_id="run_script", bash_command="example_bash_templating.sh")
    window = PythonOperator(
        task_id="describe_window",
        python_callable=describe_window,
        templates_dict={"start": "{{ ds }}", "end": "{{ macros.ds_add(ds, 1) }}", "who": "{{ dag.dag_id }}"},
    )

    print_date >> count_rows() >> [use_xcom, run_script]
