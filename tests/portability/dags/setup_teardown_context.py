"""Setup and teardown tasks used as context managers: the work inside each block runs between its
setup and its teardown, and the teardowns run even though one piece of work fails."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, setup, task, teardown

with DAG(
    dag_id="setup_teardown_context",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 0},
):

    @setup
    def create_cluster() -> str:
        return "cluster-1"

    @teardown
    def delete_cluster(cluster_id: str) -> str:
        return f"deleted {cluster_id}"

    @task
    def run_query(cluster_id: str) -> int:
        return len(cluster_id)

    @task
    def failing_job() -> None:
        raise RuntimeError("the job breaks")

    cluster = create_cluster()
    with delete_cluster(cluster):
        run_query(cluster)
        failing_job()

    make_bucket = BashOperator(task_id="make_bucket", bash_command="echo made").as_setup()
    drop_bucket = BashOperator(task_id="drop_bucket", bash_command="echo dropped").as_teardown()
    with make_bucket >> drop_bucket:
        EmptyOperator(task_id="load") >> EmptyOperator(task_id="check")
