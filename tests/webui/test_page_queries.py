"""The DAGs page, the grid and the graph issue the same SQL statements however much unrelated history
the store holds (older runs of the DAG shown, runs of other DAGs): their queries are bounded.

Times are measured by ``bench/bench_webui.py``; here only the statements are counted, so that a
query that starts to read history shows up in ``make test``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from dagflow.dagbag import DagBag
from dagflow.store.dags import sync_file
from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow, TaskInstanceRow, TaskInstanceTryRow
from tests.backends import statements_sent

SOURCE = """
from datetime import datetime

from dagflow import DAG, TaskGroup, task
from dagflow.operators import EmptyOperator

for dag_id in ("watched", "other"):
    with DAG(dag_id, schedule="@hourly", start_date=datetime(2024, 1, 1), catchup=False):
        start = EmptyOperator(task_id="start")
        with TaskGroup("work") as work:
            for i in range(3):
                EmptyOperator(task_id=f"step_{i}")

        @task
        def parts():
            return [1, 2]

        @task
        def each(part):
            return part

        start >> work >> each.expand(part=parts())
"""
NEWEST = datetime(2026, 1, 1, tzinfo=UTC)
TASKS = (
    ("start", -1),
    ("work.step_0", -1),
    ("work.step_1", -1),
    ("work.step_2", -1),
    ("parts", -1),
    ("each", 0),
    ("each", 1),
)
PAGES = ("/", "/dags/watched/grid?runs=10", "/dags/watched/graph")


def add_runs(database: Database, dag_id: str, ages: range) -> None:
    """Runs ``ages`` hours before NEWEST, each with its task instances and a try of each."""
    runs, instances = [], []
    for age in ages:
        logical = NEWEST - timedelta(hours=age)
        run_id = f"scheduled__{logical.isoformat()}"
        state = "running" if age == 0 else ("failed" if age % 3 == 1 else "success")
        runs.append(
            {
                "dag_id": dag_id,
                "run_id": run_id,
                "logical_date": logical,
                "run_after": logical,
                "run_type": "scheduled",
                "state": state,
                "conf": {},
            }
        )
        for k, (task_id, map_index) in enumerate(TASKS):
            ti_state = "none" if state == "running" and k > 2 else "success"
            ti_state = "failed" if state == "failed" and k == 3 else ti_state
            instances.append(
                {
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "task_id": task_id,
                    "map_index": map_index,
                    "state": ti_state,
                    "try_number": 1,
                    "start_date": logical,
                }
            )
    tries = [
        {
            "dag_id": ti["dag_id"],
            "run_id": ti["run_id"],
            "task_id": ti["task_id"],
            "map_index": ti["map_index"],
            "try_number": 1,
            "state": ti["state"],
        }
        for ti in instances
        if ti["state"] != "none"
    ]
    with database.transaction(write=True) as connection:
        for model, rows in ((DagRunRow, runs), (TaskInstanceRow, instances), (TaskInstanceTryRow, tries)):
            connection.execute(insert(model.__table__), rows)  # type: ignore[arg-type]


def store_dags(database: Database, dags_folder: Any, source: str = SOURCE) -> None:
    """Parse the DAG file and record its DAGs, as the DAG processor does."""
    path = dags_folder.write("dags.py", source)
    bag = DagBag(dags_folder.path)
    assert not bag.import_errors, bag.import_errors
    with database.session(write=True) as session:
        sync_file(
            session,
            str(path),
            list(bag.dags.values()),
            None,
            path.read_text(),
            now=NEWEST,
            paused_at_creation=False,
        )


def statements_per_page(client: Any, database: Database) -> dict[str, list[str]]:
    found = {}
    for path in PAGES:
        assert client.get(path).status_code == 200, path  # warm: the parsed DAG is cached from here on
        with statements_sent(database) as statements:
            assert client.get(path).status_code == 200, path
        found[path] = statements
    return found


def shapes(found: dict[str, list[str]]) -> dict[str, list[str]]:
    """The statements with their IN lists cut short: their length follows the rows shown."""
    in_list = re.compile(r"IN \((?:[^()]|\([^()]*\))*\)")
    return {path: [in_list.sub("IN (...)", s) for s in statements] for path, statements in found.items()}


def grid_table(client: Any, runs: int) -> str:
    page = client.get(f"/dags/watched/grid?runs={runs}").get_data(as_text=True)
    return page[page.index('<table class="grid-table"') : page.index("</table>")]


def test_page_queries_do_not_grow_with_unrelated_history(app, logged_in, dags_folder):
    database: Database = app.config["DAGFLOW_DATABASE"]
    store_dags(database, dags_folder)
    add_runs(database, "watched", range(3))  # fewer runs than the pages show: a query per run would show
    add_runs(database, "other", range(2))
    client = logged_in("viewer")
    grid_before = grid_table(client, runs=3)
    little = statements_per_page(client, database)

    add_runs(database, "watched", range(3, 200))  # all older than the runs above
    add_runs(database, "other", range(2, 300))
    more = statements_per_page(client, database)

    assert {path: len(s) for path, s in more.items()} == {path: len(s) for path, s in little.items()}
    assert shapes(more) == shapes(little)  # the very same statements, up to the length of IN lists
    assert grid_table(client, runs=3) == grid_before
    with database.session() as session:
        assert len(session.scalars(select(DagRunRow.run_id)).all()) == 500


def test_a_dag_page_reads_the_big_serialized_column_once_per_version_of_the_dag(app, logged_in, dags_folder):
    database: Database = app.config["DAGFLOW_DATABASE"]
    store_dags(database, dags_folder)
    add_runs(database, "watched", range(3))
    client = logged_in("viewer")
    with statements_sent(database) as first:
        client.get("/dags/watched/graph")
    with statements_sent(database) as again:
        client.get("/dags/watched/grid")
        client.get("/dags/watched/graph")
    assert sum("serialized" in s for s in first) == 1
    assert not any("serialized" in s for s in again)

    store_dags(database, dags_folder, SOURCE.replace('"start"', '"begin"'))  # a new version of the DAG
    with statements_sent(database) as changed:
        page = client.get("/dags/watched/graph").get_data(as_text=True)
    assert sum("serialized" in s for s in changed) == 1
    assert 'data-task-id="begin"' in page
    assert 'data-task-id="start"' not in page
