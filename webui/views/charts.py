"""The pictures of one DAG: a run's Gantt, a year's calendar of runs, run and task durations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, render_template, request

from dagflow.core.clock import utcnow
from dagflow.core.keys import RunKey
from dagflow.store import chart_reads, reads
from dagflow.store.rows import dag_json
from dagflow.store.runs import get_run
from webui import charts, live
from webui.db import read_session
from webui.views import bp
from webui.views.dag import dag_or_404
from webui.views.dags import _int_arg

#: The run counts the durations page offers.
RUN_COUNTS = (10, 25, 50, 100)


@bp.route("/dags/<dag_id>/gantt")
@live.changes_with(live.of_dag)
def gantt(dag_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    session = read_session()
    run_id = request.args.get("run_id")
    if run_id:
        run = get_run(session, dag_id, run_id)
        if run is None:
            abort(404, description=f"DAG {dag_id!r} has no run {run_id!r}")
    else:
        run = next(iter(reads.newest_runs(session, dag_id=dag_id, limit=1)), None)
    drawing = None
    if run is not None:
        spans = chart_reads.run_try_spans(session, run=RunKey(dag_id, run.run_id))
        drawing = charts.gantt(spans, utcnow())
    return render_template(
        "gantt.html",
        dag=dag_json(row),
        info=serialized["dag"],
        run=run,
        recent=reads.newest_run_ids(session, dag_id=dag_id, limit=25),
        gantt=drawing,
        tab="gantt",
    )


@bp.route("/dags/<dag_id>/calendar")
@live.changes_with(live.of_dag)
def calendar(dag_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    this_year = charts.utc_year(utcnow())
    year = _int_arg("year", this_year, low=1970, high=this_year + 10)
    since, until = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    days = chart_reads.run_states_by_day(read_session(), dag_id=dag_id, since=since, until=until)
    return render_template(
        "calendar.html",
        dag=dag_json(row),
        info=serialized["dag"],
        calendar=charts.calendar(year, days),
        this_year=this_year,
        tab="calendar",
    )


@bp.route("/dags/<dag_id>/durations")
@live.changes_with(live.of_dag)
def durations(dag_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    session = read_session()
    count = _int_arg("runs", 25, low=1, high=max(RUN_COUNTS))
    runs = chart_reads.recent_run_spans(session, dag_id=dag_id, limit=count)
    by_task = chart_reads.task_durations_of_runs(session, dag_id=dag_id, run_ids=[r.run_id for r in runs])
    now = utcnow()
    return render_template(
        "durations.html",
        dag=dag_json(row),
        info=serialized["dag"],
        runs=runs,
        count=count,
        counts=RUN_COUNTS,
        run_chart=charts.run_duration_chart(runs, now),
        task_rows=charts.task_duration_rows(serialized["tasks"], runs, by_task),
        tab="durations",
    )
