"""BashOperator as the standard provider documents it: env with append_env, templated commands,
exit code 99 skips the task, any other non-zero code fails it."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from airflow.utils.trigger_rule import TriggerRule

with DAG(
    dag_id="bash_exit_codes_and_env",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"table": "orders"},
) as dag:
    greet = BashOperator(
        task_id="greet",
        bash_command='echo "$GREETING {{ params.table }} ({{ logical_date.format("DD/MM") }})"',
        env={"GREETING": "loading"},
        append_env=True,
    )
    nothing_new = BashOperator(task_id="nothing_new", bash_command="echo checking; exit 99")
    broken = BashOperator(task_id="broken", bash_command="echo failing; exit 2")
    cleanup = BashOperator(
        task_id="cleanup",
        bash_command="echo cleaned",
        trigger_rule=TriggerRule.ALL_DONE,
    )
    greet >> [nothing_new, broken] >> cleanup
