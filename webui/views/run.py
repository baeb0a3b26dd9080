"""One run, one task instance (its tries, rendered fields, XComs and why it is not running), one log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import abort, render_template, request

from dagflow.core.keys import RunKey, TIKey
from dagflow.core.waiting import explain
from dagflow.exceptions import LogUnavailable
from dagflow.explain import situation
from dagflow.remote.logs import TryLog
from dagflow.runtime import xcom
from dagflow.runtime.tasklog import attempt_log_path
from dagflow.store import compensations as comp_store
from dagflow.store import reads
from dagflow.store import versions as version_store
from dagflow.store.models import DagRunRow
from dagflow.store.rows import dag_json, run_json
from webui import live
from webui.db import read_session, run_or_404, settings, ti_or_404
from webui.views import bp
from webui.views.dag import dag_or_404, stored_dag

#: The most of a log a page shows at once; the rest follows as the page asks for it.
LOG_CHUNK = 512 * 1024


def map_index_arg() -> int:
    try:
        value = int(request.args.get("map_index", -1))
    except ValueError:
        value = -2
    if not -1 <= value <= 2**31 - 1:
        abort(400, description="map_index must be an integer from -1 (not mapped) up")
    return value


@bp.route("/dags/<dag_id>/runs/<path:run_id>")
@live.changes_with(live.of_run)
def run(dag_id: str, run_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    the_run = run_or_404(dag_id, run_id)
    instances = reads.run_task_instances(read_session(), run=RunKey(dag_id, run_id))
    spec = stored_dag(serialized).spec
    return render_template(
        "run.html",
        dag=dag_json(row),
        info=serialized["dag"],
        run=run_json(the_run),
        run_duration=run_duration(the_run),
        version=version_store.version_of_run(read_session(), dag_id, run_id),
        instances=instances,
        has_compensations=spec.has_compensations,
        compensations=comp_store.compensation_rows(read_session(), RunKey(dag_id, run_id)),
        timeline=comp_store.run_timeline(read_session(), RunKey(dag_id, run_id)),
        tab="runs",
    )


def run_duration(run: DagRunRow) -> float | None:
    """Seconds from the run's start to its end; None until it has ended (or if it never started)."""
    if run.start_date is None or run.end_date is None:
        return None
    return (run.end_date - run.start_date).total_seconds()


@bp.route("/dags/<dag_id>/tasks/<task_id>")
def task_instance(dag_id: str, task_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    run_id = request.args.get("run_id", "")
    map_index = map_index_arg()
    the_run = run_or_404(dag_id, run_id)
    key = TIKey(dag_id, run_id, task_id, map_index)
    ti = ti_or_404(key)
    session = read_session()
    tries = reads.tries(session, key=key)
    xcoms = reads.xcom_values(session, key=key)
    siblings: list[tuple[int, str, str]] = []
    if map_index >= 0 or serialized["tasks"].get(task_id, {}).get("is_mapped"):
        siblings = reads.map_index_states(session, run=key.run, task_id=task_id)
    why = explain(
        situation(
            session,
            stored_dag(serialized),
            row,
            the_run,
            ti,
            parallelism=settings().getint("core", "parallelism"),
        )
    )
    compensated = task_id in stored_dag(serialized).spec.saga_graph.compensated
    return render_template(
        "task_instance.html",
        compensation=_compensation_of(key) if compensated else None,
        compensated=compensated,
        dag=dag_json(row),
        info=serialized["dag"],
        task=serialized["tasks"].get(task_id, {}),
        run=run_json(the_run),
        ti=ti,
        tries=tries,
        xcoms=[(xcom_key, xcom.readable(value)) for xcom_key, value in xcoms],
        links=extra_links(xcoms),
        siblings=siblings,
        why=why,
        tab="runs",
    )


def _compensation_of(key: TIKey) -> Any:
    rows = comp_store.compensation_rows(read_session(), key.run)
    return next((r for r in rows if r.task_id == key.task_id and r.map_index == key.map_index), None)


#: The XCom key prefix under which a try pushed its operator's extra links (dagflow.runtime.taskrunner).
LINK_PREFIX = "_link_"


def extra_links(xcoms: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(name, url)`` of the operator extra links the task instance's try pushed (a triggered run's
    page, for a TriggerDagRunOperator). Only http(s) and site-relative URLs are shown as links."""
    links = []
    for key, value in xcoms:
        if not key.startswith(LINK_PREFIX):
            continue
        try:
            url = json.loads(value)
        except ValueError:
            continue
        if isinstance(url, str) and (url.startswith(("http://", "https://")) or url.startswith("/")):
            links.append((key[len(LINK_PREFIX) :], url))
    return links


def log_file(key: TIKey, try_number: int) -> TryLog:
    """Where the try's log is: a file here, the shared remote log folder, or its worker's log server."""
    session = read_session()
    stored = reads.try_log_path(session, key=key, try_number=try_number)
    base = settings().log_folder
    if not stored and not attempt_log_path(base, *key, try_number).resolve().is_relative_to(base.resolve()):
        abort(404, description="no log for this try")  # an id such as ".." must not leave the folder
    log_url = reads.try_log_url(session, key=key, try_number=try_number)
    return TryLog.locate(settings(), key, try_number, stored_path=stored, log_url=log_url)


def read_log(log: TryLog | Path, offset: int) -> tuple[str, int]:
    """The log from byte ``offset`` (at most LOG_CHUNK of it) and where to continue; a log server that
    cannot be read says why in the text, and is asked again from the same offset next time. (A path:
    a log file of this machine.)"""
    if isinstance(log, Path):
        log = TryLog(local=log, relative=log.name)
    try:
        data, start = log.read(offset, LOG_CHUNK)
    except LogUnavailable as exc:  # said once, at the top: a live view asks again from the same offset
        return (f"[{exc}]\n" if offset == 0 else ""), offset
    return data.decode("utf-8", errors="replace"), start + len(data)


@bp.route("/dags/<dag_id>/tasks/<task_id>/logs")
def log(dag_id: str, task_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    run_id = request.args.get("run_id", "")
    map_index = map_index_arg()
    the_run = run_or_404(dag_id, run_id)
    key = TIKey(dag_id, run_id, task_id, map_index)
    ti = ti_or_404(key)
    try:
        try_number = int(request.args.get("try", ti.try_number or 1))
    except ValueError:
        abort(400, description="try must be an integer")
    path = log_file(key, try_number)
    content, offset = read_log(path, 0)
    live = ti.state == "running" and ti.try_number == try_number
    return render_template(
        "log.html",
        dag=dag_json(row),
        info=serialized["dag"],
        run=run_json(the_run),
        ti=ti,
        try_number=try_number,
        content=content,
        offset=offset,
        exists=path.exists(),
        live=live,
        tab="runs",
    )
