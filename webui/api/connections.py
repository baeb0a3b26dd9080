"""Connections (everyone reads, passwords and secret extras masked unless admin; admins change them)."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify

from dagflow import secret_actions
from dagflow.exceptions import ConnectionNotFound, DagflowError
from dagflow.store import reads
from dagflow.store.connections import get_connection_row, list_connections
from webui.api import api
from webui.api.common import MAX_ID, bad_request, body_int, body_str, calling_action, json_body, page_params
from webui.auth import current_user, requires
from webui.db import read_session, write_session
from webui.secrets_view import codec, connection_from_fields, connection_json

TEXT_FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "extra")


def _shown(action: Any) -> Any:
    try:
        return action()
    except DagflowError as exc:  # a value that cannot be decrypted with the configured key
        abort(500, description=str(exc))


@api.get("/connections")
def list_connections_api() -> Any:
    offset, limit = page_params()
    rows = list_connections(read_session())
    shown = _shown(lambda: [connection_json(r, codec()) for r in rows[offset : offset + limit]])
    return jsonify(reads.Page(shown, len(rows), offset, limit).to_json("connections"))


def _connection(conn_id: str) -> dict[str, Any]:
    row = get_connection_row(read_session(), conn_id)
    if row is None:
        abort(404, description=str(ConnectionNotFound(conn_id)))
    return dict(_shown(lambda: connection_json(row, codec())))


@api.get("/connections/<connection_id>")
def get_connection(connection_id: str) -> Any:
    return jsonify(_connection(connection_id))


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        name: body_str(body, name, max_length=10_000) for name in TEXT_FIELDS if name in body
    }
    if "port" in body:
        fields["port"] = body_int(body, "port", low=0, high=65535)
    return fields


def _save(conn_id: str, fields: dict[str, Any], *, replace: bool) -> None:
    try:
        conn = connection_from_fields(conn_id, fields)
    except DagflowError as exc:
        bad_request(str(exc))
    with write_session() as session:
        calling_action(
            lambda: secret_actions.add_connection(
                session, conn, codec=codec(), replace=replace, owner=current_user.username
            )
        )


@api.post("/connections")
@requires("admin")
def create_connection() -> Any:
    """Create a connection: body ``{"connection_id": ..., "conn_type": ...}``; 409 if it exists."""
    body = json_body()
    conn_id = body_str(body, "connection_id", required=True, max_length=MAX_ID) or ""
    fields = _fields(body)
    if get_connection_row(read_session(), conn_id) is not None:
        abort(409, description=f"a connection {conn_id!r} exists already (PATCH it to change it)")
    _save(conn_id, fields, replace=False)
    return jsonify(_connection(conn_id)), 201


@api.patch("/connections/<connection_id>")
@requires("admin")
def patch_connection(connection_id: str) -> Any:
    """Change the fields given; the others keep their values."""
    body = json_body()
    _connection(connection_id)
    from dagflow.store.connections import connection_of

    row = get_connection_row(read_session(), connection_id)
    assert row is not None
    current = connection_of(row, codec()).to_dict()
    current["extra"] = _extra_text(current["extra"])
    _save(connection_id, {**current, **_fields(body)}, replace=True)
    return jsonify(_connection(connection_id))


def _extra_text(extra: dict[str, Any]) -> str | None:
    import json

    return json.dumps(extra) if extra else None


@api.delete("/connections/<connection_id>")
@requires("admin")
def delete_connection(connection_id: str) -> Any:
    _connection(connection_id)
    with write_session() as session:
        calling_action(
            lambda: secret_actions.delete_connection(session, connection_id, owner=current_user.username)
        )
    return "", 204
