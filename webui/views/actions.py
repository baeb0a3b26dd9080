"""Acting on runs and task instances from the pages: clear, mark success or failed, delete a run.

Each action is a POST (op role, CSRF token) whose form names the run (``run_id``) and, for a task
instance, ``task_id`` and ``map_index``. Sent without ``confirm=yes`` it changes nothing and shows what
it would do, with a button that sends the same form confirmed; confirmed, it acts, then says exactly
what changed (for a clear, every task instance cleared).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from dagflow import actions
from dagflow.core.keys import RunKey, TIKey
from dagflow.core.states import RunState, TaskState
from dagflow.store import Session, reads
from dagflow.store.models import DagRunRow
from webui.api.common import MAX_INT, calling_action
from webui.auth import current_user, requires
from webui.db import read_session, run_or_404, ti_or_404, write_session
from webui.views import bp
from webui.views.dag import dag_or_404

#: The most task instances a message names one by one; the rest are counted.
NAMED = 100
#: The states a person may mark a run or a task instance with from the pages.
MARKABLE = (TaskState.SUCCESS.value, TaskState.FAILED.value)


def ti_label(task_id: str, map_index: int) -> str:
    return f"{task_id}[{map_index}]" if map_index >= 0 else task_id


def listed(labels: list[str]) -> str:
    shown = ", ".join(labels[:NAMED])
    return shown + (f" and {len(labels) - NAMED} more" if len(labels) > NAMED else "")


def _run(dag_id: str) -> tuple[dict[str, Any], DagRunRow]:
    run_id = request.form.get("run_id", "")
    if not run_id:
        abort(400, description="the form does not say which run (run_id)")
    _row, serialized = dag_or_404(dag_id)
    return serialized, run_or_404(dag_id, run_id)


def _map_index() -> int:
    try:
        value = int(request.form.get("map_index", "-1"))
    except ValueError:
        value = -2
    if not -1 <= value <= MAX_INT:
        abort(400, description=f"map_index must be an integer from -1 to {MAX_INT}")
    return value


def _state(choices: tuple[str, ...]) -> str:
    state = request.form.get("state", "")
    if state not in choices:
        abort(400, description=f"state must be one of {', '.join(choices)}, got {state!r}")
    return state


def _confirm(title: str, lines: list[str], back: str, *, button: str, danger: bool = False) -> Any:
    """The page that asks before acting: it re-sends this form with ``confirm=yes``."""
    fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", "confirm")]
    return render_template(
        "confirm.html", title=title, lines=lines, fields=fields, back=back, button=button, danger=danger
    )


def _done(message: str, back: str) -> Any:
    flash(message, "success")
    return redirect(back)


def _ti_page(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    return url_for("views.task_instance", dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index)


@bp.route("/dags/<dag_id>/actions/clear", methods=["POST"])
@requires("op")
def clear(dag_id: str) -> Any:
    """Clear one task (``task_id``; with downstream/upstream) or the whole run, optionally only failed."""
    serialized, run = _run(dag_id)
    task_id = request.form.get("task_id") or None
    if task_id is not None and task_id not in serialized["tasks"]:
        abort(404, description=f"DAG {dag_id!r} has no task {task_id!r}")
    back = _ti_page(dag_id, run.run_id, task_id, _map_index()) if task_id else _run_page(dag_id, run.run_id)
    if request.form.get("confirm") != "yes":
        preview = calling_action(lambda: _clear(read_session(), dag_id, run.run_id, task_id, dry_run=True))
        labels = [ti_label(t, m) for t, m in preview.cleared]
        if not labels:
            flash(f"Nothing to clear in run {run.run_id}: no task instance matches.", "info")
            return redirect(back)
        question = f"Clear {len(labels)} task instance(s) of run {run.run_id}?"
        lines = [f"They run again: {listed(labels)}.", *_dependent_lines(preview.dependent)]
        return _confirm(question, lines, back, button="Clear")
    with write_session() as session:
        result = calling_action(lambda: _clear(session, dag_id, run.run_id, task_id, dry_run=False))
    labels = [ti_label(t, m) for t, m in result.cleared]
    return _done(
        f"Cleared {len(labels)} task instance(s) of run {run.run_id}: {listed(labels) or 'none'}.", back
    )


def _dependent_lines(dependent: list[tuple[str, str, str, int]]) -> list[str]:
    """What clearing ExternalTaskMarkers also clears in other DAGs' runs, one line per run."""
    by_run: dict[tuple[str, str], list[str]] = {}
    for dag_id, run_id, task_id, map_index in dependent:
        by_run.setdefault((dag_id, run_id), []).append(ti_label(task_id, map_index))
    return [
        f"Through ExternalTaskMarkers, in run {run_id} of DAG {dag_id} too: {listed(labels)}."
        for (dag_id, run_id), labels in by_run.items()
    ]


def _clear(session: Session, dag_id: str, run_id: str, task_id: str | None, *, dry_run: bool) -> Any:
    """The clear the form asks for: its task (or every task) and its checkboxes."""
    checked = {name: request.form.get(name) == "true" for name in ("downstream", "upstream", "only_failed")}
    return actions.clear_task_instances(
        session,
        dag_id,
        run_id,
        [task_id] if task_id else [],
        downstream=checked["downstream"],
        upstream=checked["upstream"],
        only_failed=checked["only_failed"],
        dry_run=dry_run,
        owner=current_user.username,
    )


def _run_page(dag_id: str, run_id: str) -> str:
    return url_for("views.run", dag_id=dag_id, run_id=run_id)


@bp.route("/dags/<dag_id>/actions/mark-task", methods=["POST"])
@requires("op")
def mark_task(dag_id: str) -> Any:
    """Mark one task instance success or failed (a finished run becomes running again)."""
    _serialized, run = _run(dag_id)
    task_id, map_index = request.form.get("task_id", ""), _map_index()
    ti = ti_or_404(TIKey(dag_id, run.run_id, task_id, map_index))
    state = _state(MARKABLE)
    label, was, run_was = ti_label(task_id, map_index), ti.state, run.state
    back = _ti_page(dag_id, run.run_id, task_id, map_index)
    if request.form.get("confirm") != "yes":
        lines = [f"{label} is {was} now."]
        if run_was in (RunState.SUCCESS.value, RunState.FAILED.value):
            lines.append(f"The run is {run_was}: it becomes running again, so the scheduler looks at it.")
        return _confirm(f"Mark {label} in run {run.run_id} {state}?", lines, back, button=f"Mark {state}")
    with write_session() as session:
        calling_action(
            lambda: actions.set_task_instance_state(
                session,
                dag_id,
                run.run_id,
                task_id,
                TaskState(state),
                map_index=map_index,
                owner=current_user.username,
            )
        )
    run_now = run_or_404(dag_id, run.run_id).state
    moved = f" The run is {run_now} now (it was {run_was})." if run_now != run_was else ""
    return _done(f"Marked {label} in run {run.run_id} {state} (it was {was}).{moved}", back)


def _unfinished(run: RunKey) -> list[str]:
    return [
        ti_label(k.task_id, k.map_index) for k in reads.unfinished_task_instances(read_session(), run=run)
    ]


@bp.route("/dags/<dag_id>/actions/mark-run", methods=["POST"])
@requires("op")
def mark_run(dag_id: str) -> Any:
    """Mark a whole run success or failed: its unfinished task instances take that state too."""
    _serialized, run = _run(dag_id)
    state = _state(MARKABLE)
    unfinished, was = _unfinished(RunKey(dag_id, run.run_id)), run.state
    back = _run_page(dag_id, run.run_id)
    also = f"{len(unfinished)} unfinished task instance(s) are marked {state} too: {listed(unfinished)}."
    if request.form.get("confirm") != "yes":
        lines = [f"The run is {was} now.", also if unfinished else "Every task instance of it has finished."]
        return _confirm(f"Mark run {run.run_id} {state}?", lines, back, button=f"Mark {state}")
    with write_session() as session:
        calling_action(
            lambda: actions.set_run_state(
                session, dag_id, run.run_id, RunState(state), owner=current_user.username
            )
        )
    return _done(
        f"Marked run {run.run_id} {state} (it was {was}). {also if unfinished else ''}".rstrip(), back
    )


@bp.route("/dags/<dag_id>/actions/delete-run", methods=["POST"])
@requires("op")
def delete_run(dag_id: str) -> Any:
    """Delete a run with its task instances, their tries and XComs."""
    _serialized, run = _run(dag_id)
    run_id = run.run_id
    count = reads.task_instance_count(read_session(), run=RunKey(dag_id, run_id))
    if request.form.get("confirm") != "yes":
        lines = [f"Its {count} task instance(s), their tries and XComs go with it. This cannot be undone."]
        question = f"Delete run {run_id} of DAG {dag_id}?"
        return _confirm(question, lines, _run_page(dag_id, run_id), button="Delete", danger=True)
    with write_session() as session:
        calling_action(lambda: actions.delete_run(session, dag_id, run_id, owner=current_user.username))
    message = f"Deleted run {run_id} of DAG {dag_id} and its {count} task instance(s)."
    return _done(message, url_for("views.grid", dag_id=dag_id))
