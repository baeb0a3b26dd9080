"""The DAGs page: every DAG, its schedule, next run, latest runs, paused toggle, tags and search."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request

from dagflow import actions
from dagflow.exceptions import DagflowError
from dagflow.store import reads
from dagflow.store.dags import get_dag_row
from webui import live
from webui.auth import current_user, requires, safe_next
from webui.db import read_session, settings, write_session
from webui.views import bp


def _int_arg(name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return max(low, min(high, value))


@bp.route("/")
@live.changes_with(live.of_store)
def dags() -> Any:
    session = read_session()
    search = request.args.get("search", "").strip()
    tags = [t for t in request.args.getlist("tag") if t]
    status = request.args.get("status", "all")
    paused = {"active": False, "paused": True}.get(status)
    limit = _int_arg("limit", settings().getint("webserver", "page_size"), low=1, high=500)
    offset = _int_arg("offset", 0, high=10**9)
    page = reads.dags_page(session, search=search, tags=tags, paused=paused, offset=offset, limit=limit)
    runs = reads.recent_runs_by_dag(session, dag_ids=[d["dag_id"] for d in page.items])
    return render_template(
        "dags.html",
        page=page,
        runs=runs,
        search=search,
        tags=tags,
        status=status,
        all_tags=reads.active_dag_tags(session),
        import_errors=reads.import_error_count(session),
    )


@bp.route("/dags/<dag_id>/pause", methods=["POST"])
@requires("op")
def toggle_pause(dag_id: str) -> Any:
    if get_dag_row(read_session(), dag_id) is None:
        abort(404, description=f"DAG {dag_id!r} not found")
    paused = request.form.get("paused") == "true"
    try:
        with write_session() as session:
            actions.set_paused(session, dag_id, paused, owner=current_user.username)
    except DagflowError as exc:
        flash(str(exc), "error")
    else:
        flash(f"DAG {dag_id} is now {'paused' if paused else 'active'}.", "success")
    return redirect(safe_next(request.form.get("next")))
