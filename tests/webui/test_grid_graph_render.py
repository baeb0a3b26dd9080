"""The grid and the graph build their many links and escape their many values ahead of the template:
the links are the ones url_for gives, and HTML in a run id is still shown as text. What they draw: rows in
the order tasks run, run bars as tall as the runs took, group clusters around their tasks only, mapped
counts, edge labels and the legend."""

from __future__ import annotations

import html
import itertools
import re
from datetime import timedelta
from types import SimpleNamespace

from flask import url_for
from markupsafe import escape
from sqlalchemy import insert

from dagflow.store.engine import Database
from dagflow.store.models import DagRunRow, TaskInstanceRow
from tests.webui.test_page_queries import NEWEST, TASKS, add_runs, store_dags
from webui.graph import NODE_HEIGHT, NODE_WIDTH, edge_labels, layout
from webui.grid import (
    BAR_HEIGHT,
    SEVERITY,
    GridRow,
    build_rows,
    dependency_rank,
    printable,
    run_columns,
)
from webui.timefmt import duration_words

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


# --- what the grid and graph draw ------------------------------------------------------------------


def spec(edges: dict[str, list[str]]) -> list[dict[str, object]]:
    return [{"task_id": t, "downstream": downs} for t, downs in edges.items()]


def tree(*children: object, group_id: str | None = None) -> dict[str, object]:
    return {"group_id": group_id, "label": group_id, "children": list(children)}


def task(task_id: str) -> dict[str, str]:
    return {"task_id": task_id}


#: File order (the group tree) differs from the order the tasks run: load, then g.transform, then a.
TREE = tree(task("report"), tree(task("g.clean"), task("g.transform"), group_id="g"), task("load"))
EDGES = {"load": ["g.clean"], "g.clean": ["g.transform"], "g.transform": ["report"], "report": []}


def test_grid_rows_follow_the_order_tasks_run_with_each_group_kept_together():
    rank = dependency_rank(spec(EDGES))
    rows = build_rows(TREE, {}, ["r1"], {}, rank)
    assert [r.row_id for r in rows] == ["load", "g", "g.clean", "g.transform", "report"]
    assert [r.parents for r in rows] == [(), (), ("g",), ("g",), ()]
    in_file_order = build_rows(TREE, {}, ["r1"], {})  # without a rank
    assert [r.row_id for r in in_file_order] == ["report", "g", "g.clean", "g.transform", "load"]


def test_run_bars_are_as_tall_as_the_run_took_and_a_run_not_started_has_none():
    start = NEWEST
    runs = [
        SimpleNamespace(
            run_id="a",
            state="success",
            start_date=start,
            end_date=start + timedelta(minutes=10),
            logical_date=start,
            run_after=start,
        ),
        SimpleNamespace(
            run_id="b",
            state="running",
            start_date=start,
            end_date=None,
            logical_date=None,
            run_after=start + timedelta(days=1),
        ),
        SimpleNamespace(
            run_id="c", state="queued", start_date=None, end_date=None, logical_date=start, run_after=start
        ),
    ]
    a, b, c = run_columns(runs, now=start + timedelta(minutes=5))
    assert (a.height, a.seconds, a.date, a.time) == (BAR_HEIGHT, 600, "01-01", "00:00")
    assert (b.height, b.seconds, b.date) == (BAR_HEIGHT // 2, 300, "01-02")  # still going: until now
    assert (c.height, c.seconds) == (0, None)
    # the bars' tooltips say durations as every page does (webui.timefmt)
    assert [duration_words(s) for s in (0.42, 42, 600, 3725, None)] == [
        "0.42 s",
        "42 s",
        "10 min",
        "1 h 2 min",
        "",
    ]


def boxes_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_a_group_cluster_holds_its_tasks_and_subgroups_and_no_other_task():
    nested = tree(
        task("a"),
        tree(task("g.b"), tree(task("g.h.c"), group_id="g.h"), task("g.d"), group_id="g"),
        tree(task("k.e"), group_id="k"),
        task("f"),
    )
    edges = {"a": ["g.b", "k.e", "f"], "g.b": ["g.h.c"], "g.h.c": ["g.d"], "g.d": [], "k.e": ["g.d"], "f": []}
    drawn = layout(spec(edges), {}, nested)
    node_box = {n.task_id: (n.x, n.y, n.x + NODE_WIDTH, n.y + NODE_HEIGHT) for n in drawn.nodes}
    clusters = {c.group_id: c for c in drawn.clusters}
    assert set(clusters) == {"g", "g.h", "k"}
    assert set(clusters["g"].members) == {"g.b", "g.h.c", "g.d"} and clusters["g.h"].parent == "g"
    for cluster in drawn.clusters:
        box = (cluster.x, cluster.y, cluster.x + cluster.width, cluster.y + cluster.height)
        for task_id, node_box_ in node_box.items():
            inside = (
                box[0] <= node_box_[0]
                and node_box_[2] <= box[2]
                and box[1] < node_box_[1]
                and node_box_[3] <= box[3]
            )
            if task_id in cluster.members:
                assert inside, (cluster.group_id, task_id)
            else:
                assert not boxes_overlap(box, node_box_), (cluster.group_id, task_id)
    outer, inner = clusters["g"], clusters["g.h"]
    assert outer.x < inner.x and outer.y < inner.y and inner.x + inner.width < outer.x + outer.width
    assert not boxes_overlap(
        (outer.x, outer.y, outer.x + outer.width, outer.y + outer.height),
        (
            clusters["k"].x,
            clusters["k"].y,
            clusters["k"].x + clusters["k"].width,
            clusters["k"].y + clusters["k"].height,
        ),
    )
    for a, b in itertools.combinations(node_box.values(), 2):
        assert not boxes_overlap(a, b)


def test_an_edge_label_of_the_stored_dag_is_drawn_at_the_middle_of_its_edge():
    serialized = {"edge_info": {"load": {"g.clean": {"label": "rows > 0"}}, "g.clean": {"g.transform": {}}}}
    labels = edge_labels(serialized)
    assert labels == {("load", "g.clean"): "rows > 0"}
    assert edge_labels({}) == {}
    drawn = layout(spec(EDGES), {}, TREE, labels)
    (labelled,) = [e for e in drawn.edges if e.label]
    assert (labelled.source, labelled.target, labelled.label) == ("load", "g.clean", "rows > 0")
    nodes = {n.task_id: n for n in drawn.nodes}
    assert nodes["load"].x + NODE_WIDTH < labelled.label_x < nodes["g.clean"].x


def test_an_expanded_task_group_is_marked_as_mapped_on_its_cluster_as_a_mapped_task_is():
    grouped = {"group_id": "each", "label": "each", "is_mapped": True, "children": [task("each.work")]}
    drawn = layout(spec({"start": ["each.work"], "each.work": []}), {}, tree(task("start"), grouped))
    assert [c.label for c in drawn.clusters] == ["each [ ]"]


def test_the_grid_page_has_a_bar_and_a_date_per_run_and_rows_in_the_order_tasks_run(
    app, logged_in, dags_folder
):
    database: Database = app.config["DAGFLOW_DATABASE"]
    store_dags(database, dags_folder)
    add_runs(database, "watched", range(3))
    page = logged_in("viewer").get("/dags/watched/grid").get_data(as_text=True)
    bars = re.findall(r'class="run-bar s-(\w+)" data-state="\w+" style="height: (\d+)px"', page)
    assert [state for state, _h in bars] == ["success", "failed", "running"]  # oldest first
    assert re.findall(r'class="run-date">([^<]*)<br>([^<]*)<', page) == [
        ("12-31", "22:00"),
        ("12-31", "23:00"),
        ("01-01", "00:00"),
    ]
    rows = re.findall(r'<tr data-row="([^"]*)" data-parents="([^"]*)"', page)
    assert rows == [
        ("parts", ""),
        ("start", ""),
        ("work", ""),
        ("work.step_0", "work"),
        ("work.step_1", "work"),
        ("work.step_2", "work"),
        ("each", ""),
    ]
    assert 'aria-label="Collapse group work"' in page
    assert re.search(r'class="cell s-success mapped"[^>]*data-task-id="each"[^>]*>2</a>', page)


def test_the_graph_page_draws_the_legend_the_group_cluster_and_mapped_counts(app, logged_in, dags_folder):
    database: Database = app.config["DAGFLOW_DATABASE"]
    store_dags(database, dags_folder)
    add_runs(database, "watched", range(2, 3))  # one finished run: every task instance succeeded
    page = logged_in("viewer").get("/dags/watched/graph").get_data(as_text=True)
    legend = re.search(r'<ul class="legend" id="legend".*?</ul>', page, re.S)
    assert legend and re.findall(r'class="swatch s-(\w+)"', legend.group(0)) == list(SEVERITY)
    cluster = re.search(
        r'<g class="cluster" data-group-id="work" data-parent="" data-members="([^"]*)"', page
    )
    assert cluster and cluster.group(1).split() == ["work.step_0", "work.step_1", "work.step_2"]
    assert re.search(r'<g class="group-node s-none is-hidden" data-group-id="work"', page)
    each = page[page.index('data-task-id="each"') :]
    each = each[: each.index("</g></a>")]
    assert re.search(r'class="map-count"[^>]*>2</text>', each)
    assert re.findall(r'<rect class="s-(\w+)" data-state="\w+" data-count="(\d+)"', each) == [
        ("success", "2")
    ]
    assert "<title>each: success · 2 success</title>" in each
