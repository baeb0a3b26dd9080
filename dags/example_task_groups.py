"""
### Task groups

Task groups gather tasks under one name: their ids get the group's prefix
(`ingest.sources.from_api`), and a whole group can stand on either side of `>>`.

* `with TaskGroup("ingest")`, with the group `sources` **nested** inside it. The group's
  `default_args` apply to every task in it, nested ones included.
* `@task_group`: a function whose calls each create a group. `.override(group_id=...)` names each
  call's group; without it the ids would be `report`, `report__1`, ...
* `ingest >> [report_eu, report_us] >> done`: an edge from a group leaves from its last tasks and
  an edge into a group arrives at its first ones.

Try it: `dagflow dags test example_task_groups`
"""

from __future__ import annotations

from datetime import datetime

from dagflow import DAG, TaskGroup, task, task_group
from dagflow.operators import EmptyOperator

with DAG(
    "example_task_groups",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "task_groups"],
    doc_md=__doc__,
):

    @task
    def from_api() -> list[int]:
        return [3, 1, 4]

    @task
    def from_database() -> list[int]:
        return [1, 5, 9]

    @task
    def merge(api: list[int], database: list[int]) -> list[int]:
        return sorted(api + database)

    @task
    def build(region: str, ti=None) -> dict:
        rows = ti.xcom_pull(task_ids="ingest.merge")
        return {"region": region, "rows": len(rows), "total": sum(rows)}

    @task
    def publish(report: dict) -> str:
        return f"published {report['region']} report: {report['rows']} rows, total {report['total']}"

    @task_group
    def report(region: str) -> None:
        """Build and publish one region's report."""
        publish(build(region))

    with TaskGroup("ingest", default_args={"retries": 1}) as ingest:
        with TaskGroup("sources"):
            api, database = from_api(), from_database()
        merge(api, database)

    regions = [report.override(group_id=f"report_{region}")(region) for region in ("eu", "us")]
    ingest >> regions >> EmptyOperator(task_id="done")
