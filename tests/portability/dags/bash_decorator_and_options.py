"""@task.bash returning its command, and BashOperator's cwd, skip_on_exit_code as a list or None,
env without append_env, output_processor and do_xcom_push=False."""

import json

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task
from airflow.utils.trigger_rule import TriggerRule

with DAG(
    dag_id="bash_decorator_and_options",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    # the returned string is the command, rendered as a template before it runs
    @task.bash
    def load(table):
        return f"echo loading {table} for {{{{ ds_nodash }}}}"

    in_tmp = BashOperator(task_id="in_tmp", bash_command="pwd", cwd="/tmp")
    maybe_skip = BashOperator(
        task_id="maybe_skip", bash_command="echo nothing to do; exit 4", skip_on_exit_code=[3, 4]
    )
    never_skip = BashOperator(task_id="never_skip", bash_command="exit 99", skip_on_exit_code=None)
    # env without append_env replaces the whole environment of the command
    only_env = BashOperator(
        task_id="only_env", bash_command='echo "$STAGE-${HOME:-no home}"', env={"STAGE": "raw"}
    )
    as_json = BashOperator(
        task_id="as_json",
        bash_command="echo '{\"rows\": 7}'",
        output_processor=lambda output: json.loads(output),
    )
    quiet = BashOperator(task_id="quiet", bash_command="echo hidden", do_xcom_push=False)
    wrap_up = BashOperator(task_id="wrap_up", bash_command="echo done", trigger_rule=TriggerRule.ALL_DONE)

    load("orders") >> [in_tmp, maybe_skip, never_skip, only_env, as_json, quiet] >> wrap_up
