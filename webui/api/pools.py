"""Pools (everyone reads; admins create, change and delete them) and users (admins only)."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify

from dagflow import actions
from dagflow.store import reads
from webui.api import api
from webui.api.common import MAX_ID, body_int, body_str, calling_action, json_body, page_params
from webui.auth import current_user, requires
from webui.db import read_session, write_session


@api.get("/pools")
def list_pools() -> Any:
    offset, limit = page_params()
    found = reads.pools_with_occupancy(read_session())
    return jsonify(reads.Page(found[offset : offset + limit], len(found), offset, limit).to_json("pools"))


def _pool(name: str) -> dict[str, Any]:
    found = [p for p in reads.pools_with_occupancy(read_session()) if p["name"] == name]
    if not found:
        abort(404, description=f"no pool named {name!r}")
    return found[0]


@api.get("/pools/<name>")
def get_pool(name: str) -> Any:
    return jsonify(_pool(name))


def _save_pool(name: str, slots: int, description: str | None) -> None:
    with write_session() as session:
        calling_action(
            lambda: actions.set_pool(
                session, name, slots, description=description, owner=current_user.username
            )
        )


@api.post("/pools")
@requires("admin")
def create_pool() -> Any:
    """Create a pool: body ``{"name": ..., "slots": n, "description": ...}``; 409 if it exists."""
    body = json_body()
    name = body_str(body, "name", required=True, max_length=MAX_ID) or ""
    slots = body_int(body, "slots")
    if slots is None:
        abort(400, description="'slots' is required")
    description = body_str(body, "description", max_length=10_000)
    if reads.pool_exists(read_session(), name=name):
        abort(409, description=f"a pool named {name!r} exists already (PATCH it to change it)")
    _save_pool(name, slots, description)
    return jsonify(_pool(name)), 201


@api.patch("/pools/<name>")
@requires("admin")
def patch_pool(name: str) -> Any:
    """Change a pool's ``slots`` and/or ``description``."""
    body = json_body()
    current = _pool(name)
    slots = body_int(body, "slots")
    description = body_str(body, "description", max_length=10_000)
    _save_pool(name, current["slots"] if slots is None else slots, description)
    return jsonify(_pool(name))


@api.delete("/pools/<name>")
@requires("admin")
def delete_pool(name: str) -> Any:
    _pool(name)
    with write_session() as session:
        calling_action(lambda: actions.delete_pool(session, name, owner=current_user.username))
    return "", 204


@api.get("/users")
@requires("admin")
def list_users() -> Any:
    offset, limit = page_params()
    return jsonify(reads.users_page(read_session(), offset=offset, limit=limit).to_json("users"))
