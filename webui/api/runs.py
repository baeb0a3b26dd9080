"""DAG runs: list (one DAG, or ``~`` for all), read, trigger, mark, clear, delete."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from dagflow import actions
from dagflow.core.keys import RunKey
from dagflow.core.states import RunState, TaskState
from dagflow.exceptions import DagflowError
from dagflow.store import reads
from dagflow.store import versions as version_store
from dagflow.store.compensations import compensation_rows
from dagflow.store.dags import get_dag_row
from dagflow.store.rows import compensation_json, run_json
from webui import live
from webui.api import api
from webui.api.common import (
    bad_request,
    body_bool,
    body_choice,
    body_str,
    body_str_list,
    calling_action,
    datetime_param,
    json_body,
    page_params,
    parse_datetime,
)
from webui.auth import current_user, requires
from webui.db import read_session, run_or_404, write_session


def states_param(kind: type[RunState] | type[TaskState]) -> list[str] | None:
    """``?state=a&state=b`` or ``?state=a,b``; an unknown state is a 400."""
    wanted = [s for value in request.args.getlist("state") for s in value.split(",") if s]
    known = {s.value for s in kind}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        bad_request(f"unknown state(s) {', '.join(unknown)}; use {', '.join(sorted(known))}")
    return wanted or None


@api.get("/dags/<dag_id>/dagRuns")
def list_runs(dag_id: str) -> Any:
    if dag_id != "~" and get_dag_row(read_session(), dag_id) is None:
        abort(404, description=f"DAG {dag_id!r} not found")
    offset, limit = page_params()
    where = reads.RunFilter(
        dag_id=None if dag_id == "~" else dag_id,
        states=states_param(RunState),
        start_date_gte=datetime_param("start_date_gte"),
        start_date_lte=datetime_param("start_date_lte"),
        logical_date_gte=datetime_param("logical_date_gte"),
        logical_date_lte=datetime_param("logical_date_lte"),
    )
    page = reads.runs_page(read_session(), where=where, offset=offset, limit=limit)
    return jsonify(page.to_json("dag_runs"))


@api.get("/dags/<dag_id>/dagRuns/<run_id>")
@live.changes_with(live.of_run)
def get_run(dag_id: str, run_id: str) -> Any:
    run = run_or_404(dag_id, run_id)
    version = version_store.version_of_run(read_session(), dag_id, run_id)
    return jsonify({**run_json(run), "dag_version": version.to_json() if version is not None else None})


@api.post("/dags/<dag_id>/dagRuns")
@requires("op")
def trigger(dag_id: str) -> Any:
    """Trigger a run: body ``{"conf": {...}, "logical_date": "...", "dag_run_id": "..."}`` (all optional)."""
    body = json_body()
    conf = body.get("conf", {})
    if not isinstance(conf, dict):
        bad_request("conf must be a JSON object")
    logical_date = parse_datetime(body["logical_date"], "logical_date") if body.get("logical_date") else None
    run_id = body_str(body, "dag_run_id")
    if run_id is not None:
        try:
            actions.check_run_id(run_id)
        except DagflowError as exc:
            bad_request(f"dag_run_id: {exc}")
    if get_dag_row(read_session(), dag_id) is None:
        abort(404, description=f"DAG {dag_id!r} not found")
    with write_session() as session:
        run = calling_action(
            lambda: actions.trigger_dag(
                session,
                dag_id,
                conf=conf,
                logical_date=logical_date,
                run_id=run_id,
                owner=current_user.username,
            )
        )
        summary = run_json(run)
    return jsonify(summary), 201


@api.patch("/dags/<dag_id>/dagRuns/<run_id>")
@requires("op")
def patch_run(dag_id: str, run_id: str) -> Any:
    """Mark a run: body ``{"state": "success"|"failed"}`` (its unfinished task instances follow)."""
    state = RunState(body_choice(json_body(), "state", (RunState.SUCCESS.value, RunState.FAILED.value)))
    run_or_404(dag_id, run_id)
    with write_session() as session:
        run = calling_action(
            lambda: actions.set_run_state(session, dag_id, run_id, state, owner=current_user.username)
        )
        summary = run_json(run)
    return jsonify(summary)


@api.delete("/dags/<dag_id>/dagRuns/<run_id>")
@requires("op")
def delete_run(dag_id: str, run_id: str) -> Any:
    run_or_404(dag_id, run_id)
    with write_session() as session:
        calling_action(lambda: actions.delete_run(session, dag_id, run_id, owner=current_user.username))
    return "", 204


def clear(dag_id: str, run_id: str, task_ids: list[str], body: dict[str, Any]) -> Any:
    """Clear task instances of a run with the body's options; ``dry_run`` only says which it would."""
    downstream, upstream = body_bool(body, "downstream"), body_bool(body, "upstream")
    only_failed, dry_run = body_bool(body, "only_failed"), body_bool(body, "dry_run")
    latest = body_bool(body, "run_on_latest_version")  # Airflow 3's name for it
    run_or_404(dag_id, run_id)
    with write_session() as session:
        result = calling_action(
            lambda: actions.clear_task_instances(
                session,
                dag_id,
                run_id,
                task_ids,
                downstream=downstream,
                upstream=upstream,
                only_failed=only_failed,
                dry_run=dry_run,
                owner=current_user.username,
                dag_version="latest" if latest else "run",
            )
        )
    cleared = [{"task_id": t, "map_index": m} for t, m in result.cleared]
    return jsonify({"dry_run": dry_run, "task_instances": cleared, "total_entries": len(cleared)})


@api.post("/dags/<dag_id>/dagRuns/<run_id>/clear")
@requires("op")
def clear_run(dag_id: str, run_id: str) -> Any:
    """Clear a run's task instances: body ``{"task_ids": [...], "only_failed": true, "dry_run": ...}``."""
    body = json_body()
    return clear(dag_id, run_id, body_str_list(body, "task_ids"), body)


@api.post("/dags/<dag_id>/dagRuns/<run_id>/compensate")
@requires("op")
def compensate_run(dag_id: str, run_id: str) -> Any:
    """Compensate a finished run by hand; body ``{"resume": true}`` retries compensations that failed."""
    resume = body_bool(json_body(), "resume")
    run_or_404(dag_id, run_id)
    with write_session() as session:
        run = calling_action(
            lambda: actions.compensate_run(
                session, dag_id, run_id, resume=resume, owner=current_user.username
            )
        )
        summary = run_json(run)
    return jsonify(summary)


@api.get("/dags/<dag_id>/dagRuns/<run_id>/compensations")
def list_compensations(dag_id: str, run_id: str) -> Any:
    run_or_404(dag_id, run_id)
    rows = compensation_rows(read_session(), RunKey(dag_id, run_id))
    found = [compensation_json(row) for row in rows]
    return jsonify({"compensations": found, "total_entries": len(found), "offset": 0, "limit": len(found)})
