"""One DAG: its grid of runs, its graph, its details and its code."""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import cached_property
from typing import Any

from flask import abort, current_app, render_template, request, url_for

from dagflow.core.clock import utcnow
from dagflow.serialization import StoredDag
from dagflow.store import compensations as comp_store
from dagflow.store import reads
from dagflow.store import versions as version_store
from dagflow.store.dags import get_dag_row
from dagflow.store.models import DagRow
from dagflow.store.rows import dag_json
from dagflow.store.runs import get_run
from webui import grid as grid_rows
from webui import live
from webui.db import read_session
from webui.graph import NODE_HEIGHT, NODE_WIDTH, Layout, edge_labels, layout
from webui.views import bp
from webui.views.dags import _int_arg

#: How many parsed DAGs an app keeps (a 500-task DAG takes a few MB once parsed).
CACHED_DAGS = 64


class ParsedDag:
    """A serialized DAG as read from the store, and what the pages derive from it alone.

    Shared by the requests that show this version of the DAG: read it, never change it.
    """

    def __init__(self, serialized: dict[str, Any]):
        self.serialized = serialized

    @cached_property
    def layout(self) -> Layout:
        serialized = self.serialized
        return layout(
            serialized["spec"]["tasks"],
            serialized["tasks"],
            serialized.get("task_group"),
            edge_labels(serialized),
        )

    @cached_property
    def rank(self) -> dict[str, int]:
        """Each task's place in the order the tasks run (the grid's rows)."""
        return grid_rows.dependency_rank(self.serialized["spec"]["tasks"])


class ParsedDags:
    """The app's parsed DAGs, by (dag_id, source_hash), least recently used dropped first.

    The serialized JSON of a big DAG takes milliseconds to read and parse, and its graph layout
    longer, on every page of the DAG; ``source_hash`` changes whenever the JSON does, so a version
    read once never needs reading again.
    """

    def __init__(self, size: int = CACHED_DAGS):
        self.size = size
        self._entries: OrderedDict[tuple[str, str], ParsedDag] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> ParsedDag | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], parsed: ParsedDag) -> None:
        with self._lock:
            self._entries[key] = parsed
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def parsed_dag_or_404(dag_id: str) -> tuple[DagRow, ParsedDag]:
    """The DAG's row (without its JSON) and its parsed version, read from the store only when new."""
    row = get_dag_row(read_session(), dag_id)
    if row is None:
        abort(404, description=f"DAG {dag_id!r} not found")
    cache = _parsed_dags()
    key = (dag_id, row.source_hash or "")
    parsed = cache.get(key) if row.source_hash else None
    if parsed is None:
        if not row.serialized:  # loads the deferred column
            abort(404, description=f"DAG {dag_id!r} not found")
        parsed = ParsedDag(row.serialized)
        if row.source_hash:
            cache.put(key, parsed)
    return row, parsed


def _parsed_dags() -> ParsedDags:
    found: ParsedDags | None = current_app.extensions.get("dagflow_parsed_dags")
    if found is None:
        found = current_app.extensions.setdefault("dagflow_parsed_dags", ParsedDags())
    return found


def dag_or_404(dag_id: str) -> tuple[DagRow, dict[str, Any]]:
    """The DAG's row and its serialized version (shared between requests: do not change it)."""
    row, parsed = parsed_dag_or_404(dag_id)
    return row, parsed.serialized


def stored_dag(serialized: dict[str, Any]) -> StoredDag:
    return StoredDag.from_json(serialized)


class TaskLinks:
    """URLs of one DAG's task-instance pages, for many tasks and runs, at the cost of a few url_for.

    ``href(task_id, run_id, map_index)`` equals ``url_for("views.task_instance", dag_id=dag_id,
    task_id=task_id, run_id=run_id, map_index=map_index)``: the path quotes the task id as the
    route's converter does, and each run's query string is built once. (A grid of 100 runs x 50
    tasks would otherwise spend most of its time in 5,000 url_for calls.)
    """

    _MARKER = "__task__"

    def __init__(self, dag_id: str):
        self.dag_id = dag_id
        sample = url_for("views.task_instance", dag_id=dag_id, task_id=self._MARKER)
        self._quote = current_app.url_map.converters["default"](current_app.url_map).to_url
        self._prefix = sample[: -len(self._MARKER)] if sample.endswith(self._MARKER) else None
        self._queries: dict[tuple[str, int], str] = {}

    def path(self, task_id: str) -> str:
        """The page's path, without the query string."""
        if self._prefix is None:  # the route no longer ends with the task id
            return url_for("views.task_instance", dag_id=self.dag_id, task_id=task_id)
        return self._prefix + self._quote(task_id)

    def query(self, run_id: str, map_index: int) -> str:
        """The query string (without "?") naming the run and map index."""
        key = (run_id, map_index)
        if key not in self._queries:
            url = url_for(
                "views.task_instance",
                dag_id=self.dag_id,
                task_id=self._MARKER,
                run_id=run_id,
                map_index=map_index,
            )
            self._queries[key] = url.partition("?")[2]
        return self._queries[key]

    def href(self, task_id: str, run_id: str, map_index: int) -> str:
        return f"{self.path(task_id)}?{self.query(run_id, map_index)}"


@bp.route("/dags/<dag_id>/grid")
@live.changes_with(live.of_dag)
def grid(dag_id: str) -> Any:
    row, parsed = parsed_dag_or_404(dag_id)
    serialized = parsed.serialized
    session = read_session()
    count = _int_arg("runs", 25, low=1, high=100)
    runs = reads.newest_runs(session, dag_id=dag_id, limit=count)
    runs.reverse()
    run_ids = [r.run_id for r in runs]
    states = grid_rows.states_by_task(reads.task_states_of_runs(session, dag_id=dag_id, run_ids=run_ids))
    rank = parsed.rank
    rows = grid_rows.build_rows(serialized["task_group"], serialized["tasks"], run_ids, states, rank)
    links = TaskLinks(dag_id)
    compensations = comp_store.states_of_runs(session, dag_id=dag_id, run_ids=run_ids)
    return render_template(
        "grid.html",
        compensations={k: grid_rows.summary_state(v) for k, v in compensations.items()},
        dag=dag_json(row),
        info=serialized["dag"],
        runs=runs,
        columns=grid_rows.run_columns(runs, utcnow()),
        rows=grid_rows.printable(rows, run_ids, links.path, links.query),
        count=count,
        tab="grid",
    )


@bp.route("/dags/<dag_id>/graph")
def graph(dag_id: str) -> Any:
    row, parsed = parsed_dag_or_404(dag_id)
    session = read_session()
    run_id = request.args.get("run_id")
    if run_id:
        run = get_run(session, dag_id, run_id)
    else:
        run = next(iter(reads.newest_runs(session, dag_id=dag_id, limit=1)), None)
    if run_id and run is None:
        abort(404, description=f"DAG {dag_id!r} has no run {run_id!r}")
    states: dict[str, str | None] = {}
    counts: dict[str, dict[str, int]] = {}
    hrefs: dict[str, str] = {}
    drawing = parsed.layout
    if run is not None:
        by_task = grid_rows.states_by_task(
            reads.task_states_of_runs(session, dag_id=dag_id, run_ids=[run.run_id])
        )
        states = {task_id: grid_rows.summary_state(values) for (task_id, _r), values in by_task.items()}
        counts = {task_id: grid_rows.counts_by_state(values) for (task_id, _r), values in by_task.items()}
        links = TaskLinks(dag_id)
        mapped = {n.task_id: 0 if n.is_mapped else -1 for n in drawing.nodes}
        hrefs = {task_id: links.href(task_id, run.run_id, index) for task_id, index in mapped.items()}
    recent = reads.newest_run_ids(session, dag_id=dag_id, limit=25)
    found = comp_store.states_of_runs(session, dag_id=dag_id, run_ids=[run.run_id]) if run is not None else {}
    return render_template(
        "graph.html",
        compensations={task_id: grid_rows.summary_state(v) for (task_id, _r), v in found.items()},
        dag=dag_json(row),
        info=parsed.serialized["dag"],
        run=run,
        recent=recent,
        drawing=drawing,
        states=states,
        counts=counts,
        hrefs=hrefs,
        node_width=NODE_WIDTH,
        node_height=NODE_HEIGHT,
        tab="graph",
    )


@bp.route("/dags/<dag_id>/details")
def details(dag_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    spec_tasks = {t["task_id"]: t for t in serialized["spec"]["tasks"]}
    return render_template(
        "dag_details.html",
        dag=dag_json(row),
        info=serialized["dag"],
        tasks=serialized["tasks"],
        spec_tasks=spec_tasks,
        tab="details",
    )


@bp.route("/dags/<dag_id>/code")
def code(dag_id: str) -> Any:
    """The DAG file's source as last parsed, or as a version of the DAG had it (``?version=N``)."""
    row, serialized = dag_or_404(dag_id)
    session = read_session()
    versions = version_store.versions_of(session, dag_id)
    wanted = request.args.get("version", type=int)
    source: Any = reads.dag_source(session, fileloc=row.fileloc)
    shown = None
    if wanted is not None:
        found = version_store.version_by_number(session, dag_id, wanted)
        if found is None:
            abort(404, description=f"DAG {dag_id!r} has no version {wanted}")
        shown, text = found
        source = {"fileloc": row.fileloc, "source": text or "", "updated_at": shown.created_at}
    highlighted = None
    if source is not None:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        text = source["source"] if isinstance(source, dict) else source.source
        highlighted = highlight(text, PythonLexer(), HtmlFormatter(linenos="table", cssclass="code-hl"))
    return render_template(
        "code.html",
        dag=dag_json(row),
        info=serialized["dag"],
        source=source,
        highlighted=highlighted,
        versions=versions,
        shown=shown,
        tab="code",
    )
    return render_template(
        "code.html",
        dag=dag_json(row),
        info=serialized["dag"],
        source=source,
        highlighted=highlighted,
        tab="code",
    )
