"""One run, one task instance (its tries, rendered fields, XComs and why it is not running), one log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import abort, render_template, request

from dagflow.core.keys import RunKey, TIKey
from dagflow.core.waiting import explain
from dagflow.explain import situation
from dagflow.runtime.tasklog import attempt_log_path
from dagflow.store import reads
from dagflow.store import versions as version_store
from dagflow.store.rows import dag_json, run_json
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
def run(dag_id: str, run_id: str) -> Any:
    row, serialized = dag_or_404(dag_id)
    the_run = run_or_404(dag_id, run_id)
    instances = reads.run_task_instances(read_session(), run=RunKey(dag_id, run_id))
    return render_template(
        "run.html",
        dag=dag_json(row),
        info=serialized["dag"],
        run=run_json(the_run),
        version=version_store.version_of_run(read_session(), dag_id, run_id),
        instances=instances,
        tab="runs",
    )


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
    siblings: list[tuple[int, str]] = []
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
    return render_template(
        "task_instance.html",
        dag=dag_json(row),
        info=serialized["dag"],
        task=serialized["tasks"].get(task_id, {}),
        run=run_json(the_run),
        ti=ti,
        tries=tries,
        xcoms=xcoms,
        siblings=siblings,
        why=why,
        tab="runs",
    )


def log_file(key: TIKey, try_number: int) -> Path:
    stored = reads.try_log_path(read_session(), key=key, try_number=try_number)
    if stored:
        return Path(stored)
    base = settings().log_folder
    path = attempt_log_path(base, *key, try_number)
    if not path.resolve().is_relative_to(base.resolve()):  # an id such as ".." must not leave the folder
        abort(404, description="no log for this try")
    return path


def read_log(path: Path, offset: int) -> tuple[str, int]:
    """The log from byte ``offset`` (at most LOG_CHUNK of it) and where to continue."""
    if not path.is_file():
        return "", offset
    with open(path, "rb") as handle:
        # past the end (an offset from a longer file, or no offset of this one) there is nothing to read
        start = min(offset, os.fstat(handle.fileno()).st_size)
        handle.seek(start)
        data = handle.read(LOG_CHUNK)
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
        exists=path.is_file(),
        live=live,
        tab="runs",
    )
