"""Variables (everyone reads, secret-looking values masked unless admin; admins create, change, delete).

A key may hold ``/`` (``team/db_url``, as Airflow users name them), so the routes take the rest of the
path as the key.
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify

from dagflow import secret_actions
from dagflow.exceptions import DagflowError, VariableNotFound
from dagflow.store import reads
from dagflow.store.variables import get_variable_row, list_variables
from webui.api import api
from webui.api.common import MAX_ID, body_str, calling_action, json_body, page_params
from webui.auth import current_user, requires
from webui.db import read_session, write_session
from webui.secrets_view import codec, variable_json

MAX_VALUE = 1_000_000


def _shown(action: Any) -> Any:
    try:
        return action()
    except DagflowError as exc:  # a value that cannot be decrypted with the configured key
        abort(500, description=str(exc))


@api.get("/variables")
def list_variables_api() -> Any:
    offset, limit = page_params()
    rows = list_variables(read_session())
    shown = _shown(lambda: [variable_json(r, codec()) for r in rows[offset : offset + limit]])
    return jsonify(reads.Page(shown, len(rows), offset, limit).to_json("variables"))


def _variable(key: str) -> dict[str, Any]:
    row = get_variable_row(read_session(), key)
    if row is None:
        abort(404, description=str(VariableNotFound(key)))
    return dict(_shown(lambda: variable_json(row, codec())))


@api.get("/variables/<path:key>")
def get_variable(key: str) -> Any:
    return jsonify(_variable(key))


def _save(key: str, value: str, description: str | None) -> None:
    with write_session() as session:
        calling_action(
            lambda: secret_actions.set_variable(
                session, key, value, codec=codec(), description=description, owner=current_user.username
            )
        )


@api.post("/variables")
@requires("admin")
def create_variable() -> Any:
    """Create a Variable: body ``{"key": ..., "value": ..., "description": ...}``; 409 if it exists."""
    body = json_body()
    key = body_str(body, "key", required=True, max_length=MAX_ID) or ""
    value = body_str(body, "value", required=True, max_length=MAX_VALUE) or ""
    description = body_str(body, "description", max_length=10_000)
    if get_variable_row(read_session(), key) is not None:
        abort(409, description=f"a Variable {key!r} exists already (PATCH it to change it)")
    _save(key, value, description)
    return jsonify(_variable(key)), 201


@api.patch("/variables/<path:key>")
@requires("admin")
def patch_variable(key: str) -> Any:
    """Change a Variable's ``value`` and/or ``description``."""
    body = json_body()
    current = _variable(key)
    value = body_str(body, "value", max_length=MAX_VALUE)
    description = body_str(body, "description", max_length=10_000)
    _save(key, current["value"] if value is None else value, description)
    return jsonify(_variable(key))


@api.delete("/variables/<path:key>")
@requires("admin")
def delete_variable(key: str) -> Any:
    _variable(key)
    with write_session() as session:
        calling_action(lambda: secret_actions.delete_variable(session, key, owner=current_user.username))
    return "", 204
