"""DAGs: list, read, pause/unpause, and the source of their file."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from dagflow import actions
from dagflow.store import reads
from dagflow.store import versions as version_store
from dagflow.store.dags import get_dag_row
from dagflow.store.models import DagRow
from dagflow.store.rows import dag_json, iso
from webui.api import api
from webui.api.common import bad_request, body_bool, bool_param, calling_action, json_body, page_params
from webui.auth import current_user, requires
from webui.db import read_session, write_session


@api.get("/dags")
def list_dags() -> Any:
    offset, limit = page_params()
    page = reads.dags_page(
        read_session(),
        search=request.args.get("dag_id_pattern", ""),
        tags=request.args.getlist("tags"),
        paused=bool_param("paused"),
        offset=offset,
        limit=limit,
    )
    return jsonify(page.to_json("dags"))


def dag_row(dag_id: str) -> DagRow:
    """The DAG, or a 404 (a DAG whose file no longer defines it is not found either)."""
    row = get_dag_row(read_session(), dag_id)
    if row is None or not row.is_active:
        abort(404, description=f"DAG {dag_id!r} not found")
    return row


@api.get("/dags/<dag_id>")
def get_dag(dag_id: str) -> Any:
    row = dag_row(dag_id)
    detail = dag_json(row)
    info = (row.serialized or {}).get("dag", {})
    detail["params"] = info.get("params", {})
    detail["doc_md"] = info.get("doc_md")
    return jsonify(detail)


@api.patch("/dags/<dag_id>")
@requires("op")
def patch_dag(dag_id: str) -> Any:
    """Pause or unpause: body ``{"is_paused": true|false}``."""
    body = json_body()
    if "is_paused" not in body:
        bad_request('send {"is_paused": true} or {"is_paused": false}')
    paused = body_bool(body, "is_paused")
    dag_row(dag_id)
    with write_session() as session:
        calling_action(lambda: actions.set_paused(session, dag_id, paused, owner=current_user.username))
    return get_dag(dag_id)


@api.get("/dags/<dag_id>/source")
def dag_source(dag_id: str) -> Any:
    """The DAG file's source as the scheduler last parsed it."""
    row = dag_row(dag_id)
    code = reads.dag_source(read_session(), fileloc=row.fileloc)
    if code is None:
        abort(404, description=f"the source of DAG {dag_id!r} ({row.fileloc}) has not been recorded yet")
    return jsonify(
        {
            "dag_id": dag_id,
            "fileloc": code.fileloc,
            "source": code.source,
            "updated_at": iso(code.updated_at),
        }
    )


@api.get("/dags/<dag_id>/dagVersions")
def dag_versions(dag_id: str) -> Any:
    """Every version of the DAG, newest first."""
    dag_row(dag_id)
    found = version_store.versions_of(read_session(), dag_id)
    return jsonify({"dag_versions": [v.to_json() for v in found], "total_entries": len(found)})


@api.get("/dags/<dag_id>/dagVersions/<int(max=2147483647):version_number>")
def dag_version(dag_id: str, version_number: int) -> Any:
    """One version of the DAG with the source of its file then."""
    found = version_store.version_by_number(read_session(), dag_id, version_number)
    if found is None:
        abort(404, description=f"DAG {dag_id!r} has no version {version_number}")
    info, source = found
    return jsonify({**info.to_json(), "source": source})
