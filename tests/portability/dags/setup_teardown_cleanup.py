"""Setup and teardown tasks: the teardown cleans up even though the work between them failed, and
the run's state is decided by the work, not by the teardown."""

import pendulum
from airflow.sdk import dag, setup, task, teardown


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def setup_teardown_cleanup():
    @setup
    def create_cluster():
        return "cluster-1"

    @task
    def run_query(cluster):
        raise RuntimeError(f"query failed on {cluster}")

    @task
    def after_query():
        return "never"

    @teardown
    def delete_cluster(cluster):
        return f"deleted {cluster}"

    cluster = create_cluster()
    query = run_query(cluster)
    query >> after_query()
    query >> delete_cluster(cluster)


setup_teardown_cleanup()
