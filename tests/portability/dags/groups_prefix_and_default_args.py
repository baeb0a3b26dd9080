"""Task groups without an id prefix, default_args given to a group and inherited by its tasks (over the
DAG's), nested groups, and scheduling arguments a DAG file sets that a single run accepts."""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.decorators import task, task_group
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup


def describe(**context):
    t = context["task"]
    group = t.task_group.group_id
    return {"retries": t.retries, "owner": t.owner, "pool_slots": t.pool_slots, "group": group}


with DAG(
    dag_id="groups_prefix_and_default_args",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    default_args={"owner": "etl", "retries": 1, "retry_delay": timedelta(seconds=1)},
    max_active_tasks=4,
    max_active_runs=1,
):
    begin = EmptyOperator(task_id="begin", depends_on_past=True)

    # prefix_group_id=False: the tasks keep their own ids; the group's default_args win over the DAG's
    with TaskGroup("extract", prefix_group_id=False, default_args={"retries": 3}) as extract:

        @task(max_active_tis_per_dag=2, pool_slots=2)
        def pull_orders(**context):
            return describe(**context)

        with TaskGroup("nested", default_args={"owner": "nested-team"}):
            # a nested group inside an unprefixed group: its own prefix only
            @task
            def pull_users(**context):
                return describe(**context)

            pull_users()

        pull_orders()

    @task_group(group_id="load", default_args={"retries": 0})
    def load():
        @task(retries=5)
        def write(**context):
            return describe(**context)

        @task
        def verify(**context):
            return describe(**context)

        write() >> verify()

    begin >> extract >> load()
