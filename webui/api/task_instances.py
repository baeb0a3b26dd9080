"""Task instances of a run: list, read, mark, clear; and each one's tries, logs and XComs.

One task instance is addressed by its task id in the path and ``?map_index=`` (default -1, unmapped).
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify

from dagflow import actions
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.states import TaskState
from dagflow.store import reads
from dagflow.store.rows import ti_json, xcom_json
from webui import live
from webui.api import api
from webui.api.common import (
    body_choice,
    calling_action,
    int_param,
    json_body,
    map_index_param,
    page_params,
)
from webui.api.runs import clear, states_param
from webui.auth import current_user, requires
from webui.db import read_session, run_or_404, ti_or_404, write_session

BASE = "/dags/<dag_id>/dagRuns/<run_id>/taskInstances"
MARKABLE = tuple(s.value for s in actions.SETTABLE)


@api.get(BASE)
@live.changes_with(live.of_run)
def list_task_instances(dag_id: str, run_id: str) -> Any:
    run_or_404(dag_id, run_id)
    offset, limit = page_params()
    run, states = RunKey(dag_id, run_id), states_param(TaskState)
    page = reads.task_instances_page(read_session(), run=run, states=states, offset=offset, limit=limit)
    return jsonify(page.to_json("task_instances"))


@api.get(f"{BASE}/<task_id>")
def get_task_instance(dag_id: str, run_id: str, task_id: str) -> Any:
    return jsonify(ti_json(ti_or_404(TIKey(dag_id, run_id, task_id, map_index_param()))))


@api.patch(f"{BASE}/<task_id>")
@requires("op")
def patch_task_instance(dag_id: str, run_id: str, task_id: str) -> Any:
    """Mark a task instance: body ``{"state": "success"|"failed"|"skipped"}``."""
    state = TaskState(body_choice(json_body(), "state", MARKABLE))
    map_index = map_index_param()
    ti_or_404(TIKey(dag_id, run_id, task_id, map_index))
    with write_session() as session:
        ti = calling_action(
            lambda: actions.set_task_instance_state(
                session, dag_id, run_id, task_id, state, map_index=map_index, owner=current_user.username
            )
        )
        summary = ti_json(ti)
    return jsonify(summary)


@api.post(f"{BASE}/<task_id>/clear")
@requires("op")
def clear_task_instance(dag_id: str, run_id: str, task_id: str) -> Any:
    """Clear the task (every map index of it) with ``downstream``/``upstream``/``only_failed``/``dry_run``."""
    return clear(dag_id, run_id, [task_id], json_body())


def _existing_ti(dag_id: str, run_id: str, task_id: str) -> TIKey:
    """The task instance the path and ``?map_index=`` name; a 404 if it does not exist."""
    key = TIKey(dag_id, run_id, task_id, map_index_param())
    ti_or_404(key)
    return key


@api.get(f"{BASE}/<task_id>/tries")
def list_tries(dag_id: str, run_id: str, task_id: str) -> Any:
    key = _existing_ti(dag_id, run_id, task_id)
    offset, limit = page_params()
    return jsonify(reads.tries_page(read_session(), key=key, offset=offset, limit=limit).to_json("tries"))


@api.get(f"{BASE}/<task_id>/xcomEntries")
def list_xcoms(dag_id: str, run_id: str, task_id: str) -> Any:
    key = _existing_ti(dag_id, run_id, task_id)
    offset, limit = page_params()
    page = reads.xcoms_page(read_session(), key=key, offset=offset, limit=limit)
    return jsonify(page.to_json("xcom_entries"))


@api.get(f"{BASE}/<task_id>/xcomEntries/<key>")
def get_xcom(dag_id: str, run_id: str, task_id: str, key: str) -> Any:
    ti_key = _existing_ti(dag_id, run_id, task_id)
    row = reads.get_xcom(read_session(), key=ti_key, xcom_key=key)
    if row is None:
        abort(404, description=f"task instance {task_id!r} of run {run_id!r} pushed no XCom {key!r}")
    return jsonify(xcom_json(row))


@api.get(f"{BASE}/<task_id>/logs/<int(max=2147483647):try_number>")
def task_log(dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
    """A try's log from byte ``offset``; ``finished`` once the try is over (nothing more will come)."""
    from webui.views.run import log_file, read_log

    map_index = map_index_param()
    offset = int_param("offset", 0, high=2**62)
    key = TIKey(dag_id, run_id, task_id, map_index)
    ti = reads.get_task_instance(read_session(), key=key)
    if ti is None or try_number < 1 or try_number > max(ti.try_number, 1):
        abort(
            404,
            description=f"no try {try_number} of task instance {task_id!r} in run {run_id!r} of {dag_id!r}",
        )
    content, next_offset = read_log(log_file(key, try_number), offset)
    running = ti.state == TaskState.RUNNING.value and ti.try_number == try_number
    return jsonify({"content": content, "next_offset": next_offset, "finished": not running and not content})
