"""DAG runs and their task instances: list, read, trigger."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from sqlalchemy import select

from dagflow import actions
from dagflow.exceptions import DagflowError, DagNotFound, ParamValidationError
from dagflow.scheduler.wakeup import wake_scheduler
from dagflow.states import RunState, TaskState
from dagflow.store.models import DagRunRow, TaskInstanceRow
from webui import queries
from webui.api import api
from webui.api.common import datetime_param, json_body, page_params, parse_datetime
from webui.auth import current_user, requires
from webui.db import read_session, settings, write_session

TI = TaskInstanceRow


def _states(kind: type[RunState] | type[TaskState]) -> list[str] | None:
    wanted = [s for value in request.args.getlist("state") for s in value.split(",") if s]
    known = {s.value for s in kind}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        abort(400, description=f"unknown state(s) {', '.join(unknown)}; use {', '.join(sorted(known))}")
    return wanted or None


@api.get("/dags/<dag_id>/dagRuns")
def list_runs(dag_id: str) -> Any:
    offset, limit = page_params()
    page = queries.list_runs(
        read_session(),
        dag_id=None if dag_id == "~" else dag_id,
        states=_states(RunState),
        start=datetime_param("start_date_gte"),
        end=datetime_param("start_date_lte"),
        offset=offset,
        limit=limit,
    )
    return jsonify(page.to_json("dag_runs"))


def run_row(dag_id: str, run_id: str) -> DagRunRow:
    run = (
        read_session()
        .scalars(select(DagRunRow).where(DagRunRow.dag_id == dag_id, DagRunRow.run_id == run_id))
        .first()
    )
    if run is None:
        abort(404, description=f"DAG {dag_id!r} has no run {run_id!r}")
    return run


@api.get("/dags/<dag_id>/dagRuns/<run_id>")
def get_run(dag_id: str, run_id: str) -> Any:
    return jsonify(queries.run_summary(run_row(dag_id, run_id)))


@api.post("/dags/<dag_id>/dagRuns")
@requires("op")
def trigger(dag_id: str) -> Any:
    """Trigger a run: body ``{"conf": {...}, "logical_date": "...", "dag_run_id": "..."}`` (all optional)."""
    body = json_body()
    conf = body.get("conf", {})
    if not isinstance(conf, dict):
        abort(400, description="conf must be a JSON object")
    logical_date = parse_datetime(body["logical_date"], "logical_date") if body.get("logical_date") else None
    run_id = body.get("dag_run_id")
    if run_id is not None and (not isinstance(run_id, str) or not run_id.strip()):
        abort(400, description="dag_run_id must be a non-empty string")
    try:
        with write_session() as session:
            run = actions.trigger_dag(
                session,
                dag_id,
                conf=conf,
                logical_date=logical_date,
                run_id=run_id,
                owner=current_user.username,
            )
            summary = queries.run_summary(run)
    except DagNotFound as exc:
        abort(404, description=str(exc))
    except actions.RunExists as exc:
        abort(409, description=str(exc))
    except (ParamValidationError, DagflowError) as exc:
        abort(400, description=str(exc))
    wake_scheduler(settings().home)
    return jsonify(summary), 201


def ti_summary(ti: TaskInstanceRow) -> dict[str, Any]:
    return {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "state": ti.state,
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "queued_at": queries.iso(ti.queued_at),
        "start_date": queries.iso(ti.start_date),
        "end_date": queries.iso(ti.end_date),
        "duration": ti.duration,
        "hostname": ti.hostname,
        "pid": ti.pid,
        "pool": ti.pool,
        "pool_slots": ti.pool_slots,
        "priority_weight": ti.priority_weight,
        "operator": ti.operator,
        "not_before": queries.iso(ti.not_before),
        "error": ti.error,
        "note": ti.note,
    }


@api.get("/dags/<dag_id>/dagRuns/<run_id>/taskInstances")
def list_task_instances(dag_id: str, run_id: str) -> Any:
    run_row(dag_id, run_id)
    offset, limit = page_params()
    query = select(TI).where(TI.dag_id == dag_id, TI.run_id == run_id)
    states = _states(TaskState)
    if states:
        query = query.where(TI.state.in_(states))
    rows = list(read_session().scalars(query.order_by(TI.task_id, TI.map_index)))
    return jsonify(
        {
            "task_instances": [ti_summary(t) for t in rows[offset : offset + limit]],
            "total_entries": len(rows),
            "offset": offset,
            "limit": limit,
        }
    )


@api.get("/dags/<dag_id>/dagRuns/<run_id>/taskInstances/<task_id>/logs/<int:try_number>")
def task_log(dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
    """A try's log from byte ``offset``; ``finished`` once the try is over (nothing more will come)."""
    from webui.api.common import int_param
    from webui.views.run import log_file, read_log

    map_index = int_param("map_index", -1, low=-1)
    offset = int_param("offset", 0)
    ti = read_session().get(TI, (dag_id, run_id, task_id, map_index))
    if ti is None or try_number < 1 or try_number > max(ti.try_number, 1):
        abort(
            404,
            description=f"no try {try_number} of task instance {task_id!r} in run {run_id!r} of {dag_id!r}",
        )
    content, next_offset = read_log(log_file(dag_id, run_id, task_id, map_index, try_number), offset)
    running = ti.state == TaskState.RUNNING.value and ti.try_number == try_number
    return jsonify({"content": content, "next_offset": next_offset, "finished": not running and not content})
