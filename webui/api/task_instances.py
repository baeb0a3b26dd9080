"""Task instances of a run: list, read, mark, clear; and each one's tries, logs and XComs.

One task instance is addressed by its task id in the path and ``?map_index=`` (default -1, unmapped).
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify
from sqlalchemy import select

from dagflow import actions
from dagflow.core.states import TaskState
from dagflow.scheduler.wakeup import wake_scheduler
from dagflow.store.models import TaskInstanceRow, TaskInstanceTryRow, XComRow
from webui import queries
from webui.api import api
from webui.api.common import (
    body_choice,
    calling_action,
    int_param,
    json_body,
    map_index_param,
    page_params,
)
from webui.api.runs import clear, run_row, states_param
from webui.auth import current_user, requires
from webui.db import read_session, settings, write_session

TI = TaskInstanceRow
TRY = TaskInstanceTryRow
BASE = "/dags/<dag_id>/dagRuns/<run_id>/taskInstances"
MARKABLE = tuple(s.value for s in actions.SETTABLE)


def ti_row(dag_id: str, run_id: str, task_id: str, map_index: int) -> TaskInstanceRow:
    ti = read_session().get(TI, (dag_id, run_id, task_id, map_index))
    if ti is None:
        index = f" [{map_index}]" if map_index >= 0 else ""
        abort(404, description=f"run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r}{index}")
    return ti


@api.get(BASE)
def list_task_instances(dag_id: str, run_id: str) -> Any:
    run_row(dag_id, run_id)
    offset, limit = page_params()
    query = select(TI).where(TI.dag_id == dag_id, TI.run_id == run_id)
    states = states_param(TaskState)
    if states:
        query = query.where(TI.state.in_(states))
    query = query.order_by(TI.task_id, TI.map_index)
    page = queries.paged(read_session(), query, offset, limit, queries.ti_summary)
    return jsonify(page.to_json("task_instances"))


@api.get(f"{BASE}/<task_id>")
def get_task_instance(dag_id: str, run_id: str, task_id: str) -> Any:
    return jsonify(queries.ti_summary(ti_row(dag_id, run_id, task_id, map_index_param())))


@api.patch(f"{BASE}/<task_id>")
@requires("op")
def patch_task_instance(dag_id: str, run_id: str, task_id: str) -> Any:
    """Mark a task instance: body ``{"state": "success"|"failed"|"skipped"}``."""
    state = TaskState(body_choice(json_body(), "state", MARKABLE))
    map_index = map_index_param()
    ti_row(dag_id, run_id, task_id, map_index)
    with write_session() as session:
        ti = calling_action(
            lambda: actions.set_task_instance_state(
                session, dag_id, run_id, task_id, state, map_index=map_index, owner=current_user.username
            )
        )
        summary = queries.ti_summary(ti)
    wake_scheduler(settings().home)
    return jsonify(summary)


@api.post(f"{BASE}/<task_id>/clear")
@requires("op")
def clear_task_instance(dag_id: str, run_id: str, task_id: str) -> Any:
    """Clear the task (every map index of it) with ``downstream``/``upstream``/``only_failed``/``dry_run``."""
    return clear(dag_id, run_id, [task_id], json_body())


def _of_ti(model: type[TaskInstanceTryRow] | type[XComRow], dag_id: str, run_id: str, task_id: str) -> Any:
    map_index = map_index_param()
    ti_row(dag_id, run_id, task_id, map_index)
    return (
        model.dag_id == dag_id,
        model.run_id == run_id,
        model.task_id == task_id,
        model.map_index == map_index,
    )


@api.get(f"{BASE}/<task_id>/tries")
def list_tries(dag_id: str, run_id: str, task_id: str) -> Any:
    where = _of_ti(TRY, dag_id, run_id, task_id)
    offset, limit = page_params()
    query = select(TRY).where(*where).order_by(TRY.try_number)
    return jsonify(queries.paged(read_session(), query, offset, limit, queries.try_summary).to_json("tries"))


@api.get(f"{BASE}/<task_id>/xcomEntries")
def list_xcoms(dag_id: str, run_id: str, task_id: str) -> Any:
    where = _of_ti(XComRow, dag_id, run_id, task_id)
    offset, limit = page_params()
    query = select(XComRow).where(*where).order_by(XComRow.key)
    page = queries.paged(read_session(), query, offset, limit, queries.xcom_summary)
    return jsonify(page.to_json("xcom_entries"))


@api.get(f"{BASE}/<task_id>/xcomEntries/<key>")
def get_xcom(dag_id: str, run_id: str, task_id: str, key: str) -> Any:
    where = _of_ti(XComRow, dag_id, run_id, task_id)
    row = read_session().scalars(select(XComRow).where(*where, XComRow.key == key)).first()
    if row is None:
        abort(404, description=f"task instance {task_id!r} of run {run_id!r} pushed no XCom {key!r}")
    return jsonify(queries.xcom_summary(row))


@api.get(f"{BASE}/<task_id>/logs/<int:try_number>")
def task_log(dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
    """A try's log from byte ``offset``; ``finished`` once the try is over (nothing more will come)."""
    from webui.views.run import log_file, read_log

    map_index = map_index_param()
    offset = int_param("offset", 0, high=2**62)
    ti = read_session().get(TI, (dag_id, run_id, task_id, map_index))
    if ti is None or try_number < 1 or try_number > max(ti.try_number, 1):
        abort(
            404,
            description=f"no try {try_number} of task instance {task_id!r} in run {run_id!r} of {dag_id!r}",
        )
    content, next_offset = read_log(log_file(dag_id, run_id, task_id, map_index, try_number), offset)
    running = ti.state == TaskState.RUNNING.value and ti.try_number == try_number
    return jsonify({"content": content, "next_offset": next_offset, "finished": not running and not content})
