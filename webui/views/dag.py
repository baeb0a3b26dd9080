"""One DAG: its grid of runs, its graph, its details and its code."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from sqlalchemy import select

from dagflow.serialization import StoredDag
from dagflow.store.models import DagCodeRow, DagRow, DagRunRow, TaskInstanceRow
from webui import grid as grid_rows
from webui import queries
from webui.db import read_session
from webui.graph import NODE_HEIGHT, NODE_WIDTH, layout
from webui.views import bp
from webui.views.dags import _int_arg

TI = TaskInstanceRow


def dag_or_404(dag_id: str) -> tuple[DagRow, dict[str, Any]]:
    row = read_session().get(DagRow, dag_id)
    if row is None or not row.serialized:
        abort(404, description=f"DAG {dag_id!r} not found")
    return row, row.serialized


def stored_dag(serialized: dict[str, Any]) -> StoredDag:
    return StoredDag.from_json(serialized)


@bp.route("/dags/<dag_id>/grid")
def grid(dag_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    session = read_session()
    count = _int_arg("runs", 25, low=1, high=100)
    runs = list(
        session.scalars(
            select(DagRunRow)
            .where(DagRunRow.dag_id == dag_id)
            .order_by(DagRunRow.run_after.desc(), DagRunRow.id.desc())
            .limit(count)
        )
    )
    runs.reverse()
    run_ids = [r.run_id for r in runs]
    states = grid_rows.states_by_task(
        session.execute(
            select(TI.task_id, TI.run_id, TI.state).where(TI.dag_id == dag_id, TI.run_id.in_(run_ids))
        )
    )
    rows = grid_rows.build_rows(serialized["task_group"], serialized["tasks"], run_ids, states)
    return render_template(
        "grid.html",
        dag=queries.dag_summary(row),
        info=serialized["dag"],
        runs=runs,
        rows=rows,
        count=count,
        tab="grid",
    )


@bp.route("/dags/<dag_id>/graph")
def graph(dag_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    session = read_session()
    run_id = request.args.get("run_id")
    query = select(DagRunRow).where(DagRunRow.dag_id == dag_id)
    query = query.where(DagRunRow.run_id == run_id) if run_id else query.order_by(DagRunRow.run_after.desc())
    run = session.scalars(query.limit(1)).first()
    if run_id and run is None:
        abort(404, description=f"DAG {dag_id!r} has no run {run_id!r}")
    states: dict[str, str | None] = {}
    if run is not None:
        by_task = grid_rows.states_by_task(
            session.execute(
                select(TI.task_id, TI.run_id, TI.state).where(TI.dag_id == dag_id, TI.run_id == run.run_id)
            )
        )
        states = {task_id: grid_rows.summary_state(values) for (task_id, _r), values in by_task.items()}
    recent = list(
        session.scalars(
            select(DagRunRow.run_id)
            .where(DagRunRow.dag_id == dag_id)
            .order_by(DagRunRow.run_after.desc())
            .limit(25)
        )
    )
    drawing = layout(serialized["spec"]["tasks"], serialized["tasks"])
    return render_template(
        "graph.html",
        dag=queries.dag_summary(row),
        info=serialized["dag"],
        run=run,
        recent=recent,
        drawing=drawing,
        states=states,
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
        dag=queries.dag_summary(row),
        info=serialized["dag"],
        tasks=serialized["tasks"],
        spec_tasks=spec_tasks,
        tab="details",
    )


@bp.route("/dags/<dag_id>/code")
def code(dag_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    source = read_session().get(DagCodeRow, row.fileloc)
    highlighted = None
    if source is not None:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        highlighted = highlight(
            source.source, PythonLexer(), HtmlFormatter(linenos="table", cssclass="code-hl")
        )
    return render_template(
        "code.html",
        dag=queries.dag_summary(row),
        info=serialized["dag"],
        source=source,
        highlighted=highlighted,
        tab="code",
    )
