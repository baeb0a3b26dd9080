"""DAGs: list, read, pause/unpause."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from dagflow import actions
from dagflow.exceptions import DagflowError, DagNotFound
from dagflow.scheduler.wakeup import wake_scheduler
from dagflow.store.models import DagRow
from webui import queries
from webui.api import api
from webui.api.common import body_bool, bool_param, json_body, page_params
from webui.auth import current_user, requires
from webui.db import read_session, settings, write_session


@api.get("/dags")
def list_dags() -> Any:
    offset, limit = page_params()
    page = queries.list_dags(
        read_session(),
        search=request.args.get("dag_id_pattern", ""),
        tags=request.args.getlist("tags"),
        paused=bool_param("paused"),
        offset=offset,
        limit=limit,
    )
    return jsonify(page.to_json("dags"))


def _dag_row(dag_id: str) -> DagRow:
    row = read_session().get(DagRow, dag_id)
    if row is None or not row.is_active:
        abort(404, description=f"DAG {dag_id!r} not found")
    return row


@api.get("/dags/<dag_id>")
def get_dag(dag_id: str) -> Any:
    row = _dag_row(dag_id)
    detail = queries.dag_summary(row)
    serialized = row.serialized or {}
    detail["params"] = serialized.get("dag", {}).get("params", {})
    detail["doc_md"] = serialized.get("dag", {}).get("doc_md")
    return jsonify(detail)


@api.patch("/dags/<dag_id>")
@requires("op")
def patch_dag(dag_id: str) -> Any:
    """Pause or unpause: body ``{"is_paused": true|false}``."""
    body = json_body()
    if "is_paused" not in body:
        abort(400, description='send {"is_paused": true} or {"is_paused": false}')
    paused = body_bool(body, "is_paused")
    try:
        with write_session() as session:
            actions.set_paused(session, dag_id, paused, owner=current_user.username)
    except DagNotFound as exc:
        abort(404, description=str(exc))
    except DagflowError as exc:
        abort(400, description=str(exc))
    wake_scheduler(settings().home)
    return get_dag(dag_id)
