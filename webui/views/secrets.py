"""The Variables and Connections pages: everyone lists them (secrets masked unless admin); admins
add, edit and delete them."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for

from dagflow import secret_actions
from dagflow.exceptions import DagflowError
from dagflow.store import Session
from dagflow.store.connections import connection_of, get_connection_row, list_connections
from dagflow.store.variables import get_variable_row, list_variables
from webui.auth import current_user, requires
from webui.db import read_session
from webui.secrets_view import codec, connection_from_fields, connection_json, variable_json
from webui.views import bp
from webui.views.writes import write_then_flash

CONNECTION_FORM = ("conn_type", "host", "login", "password", "schema", "port", "extra", "description")


def _listed(render: Any) -> Any:
    try:
        return render()
    except DagflowError as exc:  # stored secrets that the configured key cannot decrypt
        abort(500, description=str(exc))


@bp.route("/variables")
def variables() -> Any:
    rows = list_variables(read_session())
    shown = _listed(lambda: [variable_json(r, codec()) for r in rows])
    editing = _editing_variable(request.args.get("edit"))
    return render_template("variables.html", variables=shown, editing=editing)


def _editing_variable(key: str | None) -> dict[str, Any] | None:
    if not key or not current_user.can("admin"):
        return None
    row = get_variable_row(read_session(), key)
    return None if row is None else _listed(lambda: variable_json(row, codec()))


@bp.route("/variables", methods=["POST"])
@requires("admin")
def set_variable() -> Any:
    key = request.form.get("key", "").strip()
    return write_then_flash(
        lambda session: secret_actions.set_variable(
            session,
            key,
            request.form.get("value", ""),
            codec=codec(),
            description=request.form.get("description") or None,
            owner=current_user.username,
        ),
        done=f"Variable {key} saved.",
        back=url_for("views.variables"),
        failed="Variable not saved: ",
    )


@bp.route("/variables/<path:key>/delete", methods=["POST"])  # a key may hold "/"
@requires("admin")
def delete_variable(key: str) -> Any:
    return write_then_flash(
        lambda session: secret_actions.delete_variable(session, key, owner=current_user.username),
        done=f"Variable {key} deleted.",
        back=url_for("views.variables"),
    )


@bp.route("/connections")
def connections() -> Any:
    rows = list_connections(read_session())
    shown = _listed(lambda: [connection_json(r, codec()) for r in rows])
    editing = _editing_connection(request.args.get("edit"))
    return render_template("connections.html", connections=shown, editing=editing)


def _editing_connection(conn_id: str | None) -> dict[str, Any] | None:
    if not conn_id or not current_user.can("admin"):
        return None
    row = get_connection_row(read_session(), conn_id)
    if row is None:
        return None
    shown = _listed(lambda: connection_json(row, codec()))
    shown["password"] = ""  # never put a password back in a page: left blank, the stored one is kept
    return shown


@bp.route("/connections", methods=["POST"])
@requires("admin")
def save_connection() -> Any:
    conn_id = request.form.get("connection_id", "").strip()
    fields = {name: request.form.get(name, "").strip() for name in CONNECTION_FORM}

    def save(session: Session) -> None:
        existing = get_connection_row(session, conn_id)
        if existing is not None and not fields["password"]:
            fields["password"] = connection_of(existing, codec()).password or ""
        conn = connection_from_fields(conn_id, fields)
        secret_actions.add_connection(session, conn, codec=codec(), replace=True, owner=current_user.username)

    return write_then_flash(
        save,
        done=f"Connection {conn_id} saved.",
        back=url_for("views.connections"),
        failed="Connection not saved: ",
    )


@bp.route("/connections/<conn_id>/delete", methods=["POST"])
@requires("admin")
def delete_connection(conn_id: str) -> Any:
    return write_then_flash(
        lambda session: secret_actions.delete_connection(session, conn_id, owner=current_user.username),
        done=f"Connection {conn_id} deleted.",
        back=url_for("views.connections"),
    )
