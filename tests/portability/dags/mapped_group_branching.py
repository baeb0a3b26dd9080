"""DAGs generated in a loop (skipping the others when Airflow parses for one DAG only), each
expanding a task group per file in which a branch and a short circuit decide for their own index."""

import pendulum
from airflow.sdk import DAG, get_parsing_context, task, task_group
from airflow.utils.types import DagRunType

SOURCES = {"sales": ["orders.csv", "refunds.parquet", "notes.txt"], "hr": ["staff.csv"]}
# None when the whole file is parsed; a DAG id when a worker parses for one task of that DAG
current_dag_id = get_parsing_context().dag_id

for source, files in SOURCES.items():
    dag_id = f"mapped_group_branching_{source}"
    if current_dag_id is not None and current_dag_id != dag_id:
        continue

    with DAG(
        dag_id=dag_id,
        schedule="@daily",
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
    ):

        @task
        def list_files(dag_run=None, names=tuple(files)):
            # manual runs (dag.test) load every file; scheduled runs would too, but say so
            prefix = "manual" if dag_run.run_type == DagRunType.MANUAL else "scheduled"
            return [f"{prefix}/{name}" for name in names]

        @task_group
        def per_file(path):
            # in an expanded group a branch decides for its own map index only
            @task.branch
            def by_format(path):
                if path.endswith(".csv"):
                    return "read_csv"  # relative to the group, as Airflow resolves it
                return "per_file.read_parquet"

            @task
            def read_csv(path):
                return f"csv:{path}"

            @task
            def read_parquet(path):
                return f"parquet:{path}"

            @task.short_circuit
            def known_format(path):
                return not path.endswith(".txt")

            @task(trigger_rule="none_failed_min_one_success")
            def store(path):
                return path.split("/")[-1]

            stored = store(path)
            readers = [read_csv(path), read_parquet(path)]
            by_format(path) >> readers >> stored
            known_format(path) >> readers
            return stored

        # none_failed: runs though one file was skipped; it gets the values of the indexes that ran
        @task(trigger_rule="none_failed")
        def summary(stored):
            return sorted(stored)

        summary(per_file.expand(path=list_files()))
