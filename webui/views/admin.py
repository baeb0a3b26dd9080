"""Pages around the DAGs: all runs, import errors, workers, pools and users."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from dagflow import actions
from dagflow.core.clock import utcnow
from dagflow.core.states import RunState
from dagflow.exceptions import DagflowError
from dagflow.store import reads
from dagflow.store.events import record_event
from dagflow.store.users import ROLES, create_user, generate_password
from webui.auth import current_user, requires
from webui.db import read_session, write_session
from webui.views import bp
from webui.views.dags import _int_arg
from webui.views.writes import write_then_flash
from webui.workers import current_workers


@bp.route("/runs")
def runs() -> Any:
    state = request.args.get("state") or None
    states = [state] if state in {s.value for s in RunState} else None
    offset = _int_arg("offset", 0, high=10**9)
    where = reads.RunFilter(dag_id=request.args.get("dag_id") or None, states=states)
    page = reads.runs_page(read_session(), where=where, offset=offset, limit=50)
    return render_template("runs.html", page=page, state=state or "", dag_id=request.args.get("dag_id", ""))


@bp.route("/import-errors")
def import_errors() -> Any:
    return render_template("import_errors.html", errors=reads.import_errors(read_session()))


@bp.route("/workers")
def workers() -> Any:
    """The live Celery workers, their queues and what they run (Celery inspect)."""
    return render_template("workers.html", view=current_workers())


@bp.route("/pools")
def pools() -> Any:
    return render_template("pools.html", pools=reads.pools_with_occupancy(read_session()))


@bp.route("/pools", methods=["POST"])
@requires("admin")
def set_pool() -> Any:
    name = request.form.get("name", "").strip()
    try:
        slots = int(request.form.get("slots", ""))
        with write_session() as session:
            actions.set_pool(
                session,
                name,
                slots,
                description=request.form.get("description") or None,
                owner=current_user.username,
            )
    except (ValueError, DagflowError) as exc:
        flash(f"Pool not saved: {exc}", "error")
    else:
        flash(f"Pool {name} now has {slots} slot(s).", "success")
    return redirect(url_for("views.pools"))


@bp.route("/pools/<name>/delete", methods=["POST"])
@requires("admin")
def delete_pool(name: str) -> Any:
    return write_then_flash(
        lambda session: actions.delete_pool(session, name, owner=current_user.username),
        done=f"Pool {name} deleted.",
        back=url_for("views.pools"),
    )


@bp.route("/users")
@requires("admin")
def users() -> Any:
    rows = reads.users_by_name(read_session())
    return render_template("users.html", users=rows, roles=ROLES)


@bp.route("/users", methods=["POST"])
@requires("admin")
def add_user() -> Any:
    username = request.form.get("username", "").strip()
    role = request.form.get("role", "viewer")
    password = request.form.get("password") or generate_password()
    try:
        with write_session() as session:
            create_user(session, username, password, role, now=utcnow())
            record_event(
                session,
                event="create_user",
                owner=current_user.username,
                extra={"user": username, "role": role},
            )
    except DagflowError as exc:
        flash(f"User not created: {exc}", "error")
    else:
        shown = "" if request.form.get("password") else f" Generated password: {password}"
        flash(f"User {username} ({role}) created.{shown}", "success")
    return redirect(url_for("views.users"))
