"""Task groups (the decorator and the context manager) wired with chain() from airflow.sdk."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TaskGroup, chain, task, task_group

with DAG(
    dag_id="groups_and_chain",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    begin = EmptyOperator(task_id="begin")

    @task_group
    def prepare():
        @task
        def fetch():
            return 5

        @task
        def clean(n):
            return n * 3

        return clean(fetch())

    with TaskGroup("publish") as publish:
        BashOperator(task_id="announce", bash_command="echo published")

    @task
    def finish(n):
        return f"done:{n}"

    prepared = prepare()
    chain(begin, prepared, publish, finish(prepared))
