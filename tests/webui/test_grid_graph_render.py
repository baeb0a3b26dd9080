"""The grid and the graph build their many links and escape their many values ahead of the template:
the links are the ones url_for gives, and HTML in a run id is still shown as text."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from flask import url_for
from markupsafe import escape
from sqlalchemy import insert

from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow, TaskInstanceRow
from tests.webui.test_page_queries import NEWEST, TASKS, add_runs, store_dags
from webui.grid import GridRow, printable

ODD_RUN = "manual__<b>&'\"x y/z+1"


def add_odd_run(database: Database) -> None:
    """A run whose id holds HTML, quotes and characters a URL must encode, newer than the others."""
    when = NEWEST + timedelta(hours=1)
    run = {
        "dag_id": "watched",
        "run_id": ODD_RUN,
        "logical_date": when,
        "run_after": when,
        "run_type": "manual",
        "state": "running",
        "conf": {},
    }
    instances = [
        {"dag_id": "watched", "run_id": ODD_RUN, "task_id": t, "map_index": m, "state": "success"}
        for t, m in TASKS
    ]
    with database.transaction(write=True) as connection:
        connection.execute(insert(DagRunRow.__table__), [run])  # type: ignore[arg-type]
        connection.execute(insert(TaskInstanceRow.__table__), instances)  # type: ignore[arg-type]


def grid_links(page: str) -> dict[str, str]:
    """The grid's links to task instances, by their cell's title (unescaped)."""
    found = re.findall(r'title="([^"]*)"\s+href="(/dags/watched/tasks/[^"]*)"', page)
    return {html.unescape(title): html.unescape(href) for title, href in found}


def graph_links(page: str) -> dict[str, str]:
    """The graph's links to task instances, by task id."""
    found = re.findall(r'<a href="([^"]*)">\s*<g class="node[^"]*" data-task-id="([^"]*)"', page)
    return {html.unescape(task_id): html.unescape(href) for href, task_id in found}


def test_grid_links_are_those_url_for_builds_and_html_in_a_run_id_stays_text(app, logged_in, dags_folder):
    database: Database = app.config["DAGFLOW_DATABASE"]
    store_dags(database, dags_folder)
    add_runs(database, "watched", range(2))
    add_odd_run(database)
    page = logged_in("viewer").get("/dags/watched/grid").get_data(as_text=True)
    assert "<b>" not in page and str(escape(ODD_RUN)) in page
    links = grid_links(page)
    assert len(links) == 3 * 6  # 3 runs, 6 tasks (the mapped one is one row)
    with app.test_request_context():
        for title, href in links.items():
            task_id, run_id = re.match(r"(\S+) in (.*): \w+", title).groups()  # type: ignore[union-attr]
            map_index = 0 if task_id == "each" else -1
            assert href == url_for(
                "views.task_instance", dag_id="watched", task_id=task_id, run_id=run_id, map_index=map_index
            )


def test_graph_links_are_those_url_for_builds(app, logged_in, dags_folder):
    database: Database = app.config["DAGFLOW_DATABASE"]
    store_dags(database, dags_folder)
    add_odd_run(database)
    page = logged_in("viewer").get("/dags/watched/graph").get_data(as_text=True)
    links = graph_links(page)
    assert set(links) == {t for t, _m in TASKS}
    with app.test_request_context():
        for task_id, href in links.items():
            map_index = 0 if task_id == "each" else -1
            assert href == url_for(
                "views.task_instance", dag_id="watched", task_id=task_id, run_id=ODD_RUN, map_index=map_index
            )


def test_printable_cells_are_escaped_once_and_group_cells_have_no_link():
    rows = [
        GridRow("group", "group", 0, True, cells=[("failed", 0), (None, 0)]),
        GridRow("group.<i>", "<i>", 1, False, cells=[("failed", 1), (None, 0)]),
    ]
    printed = printable(rows, ["r<1>", "r&2"], lambda t: f"/t/{t}", lambda r, m: f"run_id={r}&map_index={m}")
    (_group, group_cells), (_task, task_cells) = printed
    assert [c[3] for c in group_cells] == ["", ""]
    assert task_cells[0] == (
        "failed",
        1,
        "r&lt;1&gt;",
        "/t/group.&lt;i&gt;?run_id=r&lt;1&gt;&amp;map_index=-1",
    )
    assert task_cells[1] == (None, 0, "r&amp;2", "")
